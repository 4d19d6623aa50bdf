-- The Adam family, PyTorch 2's formulas and defaults: Adam and AdamW (fused C update,
-- torch._adam_step, amsgrad included), Adamax, NAdam and RAdam (composed from tensor
-- ops under no_grad). State: step (a Lua number), exp_avg, exp_avg_sq, and
-- max_exp_avg_sq (amsgrad) / exp_inf (Adamax) / mu_product (NAdam, rounded to
-- float32 each step as PyTorch's 0-d float32 tensor).
local torch = require 'torch'
local optim = require 'optim'

local function check_common(self, o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'eps', 0)
  self:_check_pair(o, 'betas', function(b1, b2)
    if not (b1 >= 0 and b1 < 1) then self:_fail('invalid beta parameter at index 1: %s', tostring(b1)) end
    if not (b2 >= 0 and b2 < 1) then self:_fail('invalid beta parameter at index 2: %s', tostring(b2)) end
  end)
  self:_check_number(o, 'weight_decay', 0)
  if o.maximize ~= nil then self:_check_bool(o, 'maximize') end
end

local function new_class(name, options, defaults)
  local C, parent = torch.class('optim.' .. name, 'optim.Optimizer')
  C._options = options
  C._defaults = defaults
  function C:__init(params, opts) parent.__init(self, params, opts) end
  return C
end

local COMMON = { 'lr', 'betas', 'eps', 'weight_decay', 'maximize', 'foreach', 'capturable', 'differentiable', 'fused' }
local function opts_with(extra)
  local t = {}
  for _, k in ipairs(COMMON) do t[#t + 1] = k end
  for _, k in ipairs(extra) do t[#t + 1] = k end
  return t
end

-- ---- Adam / AdamW ----

local function adam_defaults(wd)
  return { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = wd, amsgrad = false, maximize = false,
    foreach = false, capturable = false, differentiable = false, fused = false }
end

local function adam_update(self, g, decoupled)
  local o = { lr = g.lr, beta1 = g.betas[1], beta2 = g.betas[2], eps = g.eps, weight_decay = g.weight_decay,
    maximize = g.maximize, decoupled = decoupled }
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step = 0
      st.exp_avg = torch.zeros_like(p)
      st.exp_avg_sq = torch.zeros_like(p)
      if g.amsgrad then st.max_exp_avg_sq = torch.zeros_like(p) end
    end
    if g.amsgrad and not st.max_exp_avg_sq then st.max_exp_avg_sq = torch.zeros_like(p) end
    st.step = st.step + 1
    o.step = st.step
    torch._adam_step(p, optim._contig(self, p, grad), st.exp_avg, st.exp_avg_sq,
      g.amsgrad and st.max_exp_avg_sq or nil, o)
  end
end

local Adam = new_class('Adam', opts_with { 'amsgrad' }, adam_defaults(0))
function Adam:_check(o) check_common(self, o); self:_check_bool(o, 'amsgrad') end
function Adam:_update(g) adam_update(self, g, false) end

local AdamW = new_class('AdamW', opts_with { 'amsgrad' }, adam_defaults(1e-2))
function AdamW:_check(o) check_common(self, o); self:_check_bool(o, 'amsgrad') end
function AdamW:_update(g) adam_update(self, g, true) end

-- grad after maximize and the L2 term (a new tensor; grad itself is left alone)
local function effective_grad(p, grad, g, l2)
  if g.maximize then grad = -grad end
  if l2 and g.weight_decay ~= 0 then grad = grad:add(p, { alpha = g.weight_decay }) end
  return grad
end

-- ---- Adamax ----

local Adamax = new_class('Adamax', COMMON, { lr = 2e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0,
  maximize = false, foreach = false, capturable = false, differentiable = false, fused = false })
function Adamax:_check(o) check_common(self, o) end
function Adamax:_update(g)
  local b1, b2 = g.betas[1], g.betas[2]
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step, st.exp_avg, st.exp_inf = 0, torch.zeros_like(p), torch.zeros_like(p)
    end
    st.step = st.step + 1
    grad = effective_grad(p, grad, g, true)
    st.exp_avg:mul_(b1):add_(grad, { alpha = 1 - b1 })
    -- exp_inf = max(exp_inf * b2, |grad| + eps)
    st.exp_inf:copy_(torch.maximum(st.exp_inf:mul_(b2), grad:abs():add_(g.eps)))
    local clr = g.lr / (1 - b1 ^ st.step)
    p:addcdiv_(st.exp_avg, st.exp_inf, { value = -clr })
  end
end

-- ---- NAdam ----

local function f32(x) return string.unpack('f', string.pack('f', x)) end

local NAdam = new_class('NAdam', opts_with { 'momentum_decay', 'decoupled_weight_decay' },
  { lr = 2e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, momentum_decay = 4e-3,
    decoupled_weight_decay = false, maximize = false, foreach = false, capturable = false,
    differentiable = false, fused = false })
function NAdam:_check(o)
  check_common(self, o)
  self:_check_number(o, 'momentum_decay', 0)
  self:_check_bool(o, 'decoupled_weight_decay')
end
function NAdam:_update(g)
  local b1, b2, lr = g.betas[1], g.betas[2], g.lr
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step, st.mu_product = 0, 1.0
      st.exp_avg, st.exp_avg_sq = torch.zeros_like(p), torch.zeros_like(p)
    end
    st.step = st.step + 1
    local step = st.step
    local bc2 = 1 - b2 ^ step
    if g.weight_decay ~= 0 and g.decoupled_weight_decay then p:mul_(1 - lr * g.weight_decay) end
    grad = effective_grad(p, grad, g, not g.decoupled_weight_decay)
    local mu = b1 * (1 - 0.5 * 0.96 ^ (step * g.momentum_decay))
    local mu_next = b1 * (1 - 0.5 * 0.96 ^ ((step + 1) * g.momentum_decay))
    st.mu_product = f32(st.mu_product * mu)
    local mu_product_next = st.mu_product * mu_next
    st.exp_avg:mul_(b1):add_(grad, { alpha = 1 - b1 })
    st.exp_avg_sq:mul_(b2):addcmul_(grad, grad, { value = 1 - b2 })
    local denom = st.exp_avg_sq:div(bc2):sqrt():add_(g.eps)
    p:addcdiv_(grad, denom, { value = -lr * (1 - mu) / (1 - st.mu_product) })
    p:addcdiv_(st.exp_avg, denom, { value = -lr * mu_next / (1 - mu_product_next) })
  end
end

-- ---- RAdam ----

local RAdam = new_class('RAdam', opts_with { 'decoupled_weight_decay' },
  { lr = 1e-3, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, decoupled_weight_decay = false,
    maximize = false, foreach = false, capturable = false, differentiable = false, fused = false })
function RAdam:_check(o)
  check_common(self, o)
  self:_check_bool(o, 'decoupled_weight_decay')
end
function RAdam:_update(g)
  local b1, b2, lr = g.betas[1], g.betas[2], g.lr
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step, st.exp_avg, st.exp_avg_sq = 0, torch.zeros_like(p), torch.zeros_like(p)
    end
    st.step = st.step + 1
    local step = st.step
    if g.weight_decay ~= 0 and g.decoupled_weight_decay then p:mul_(1 - lr * g.weight_decay) end
    grad = effective_grad(p, grad, g, not g.decoupled_weight_decay)
    st.exp_avg:mul_(b1):add_(grad, { alpha = 1 - b1 })
    st.exp_avg_sq:mul_(b2):addcmul_(grad, grad, { value = 1 - b2 })
    local bc1, bc2 = 1 - b1 ^ step, 1 - b2 ^ step
    local corrected = st.exp_avg / bc1
    local rho_inf = 2 / (1 - b2) - 1
    local rho_t = rho_inf - 2 * step * (b2 ^ step) / bc2
    if rho_t > 5 then
      local rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
      local adaptive = math.sqrt(bc2) / st.exp_avg_sq:sqrt():add_(g.eps)
      p:add_(corrected * lr * adaptive * rect, { alpha = -1.0 })
    else
      p:add_(corrected * lr, { alpha = -1.0 })
    end
  end
end

return Adam
