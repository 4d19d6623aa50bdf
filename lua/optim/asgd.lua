-- optim.ASGD, averaged SGD (lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay,
-- maximize), PyTorch 2's formulas, composed from tensor ops under no_grad. State:
-- step, eta and mu (Lua numbers rounded to float32 as PyTorch's 0-d float32
-- tensors), ax (the running average of the parameter).
local torch = require 'torch'

local ASGD, parent = torch.class('optim.ASGD', 'optim.Optimizer')
ASGD._options = { 'lr', 'lambd', 'alpha', 't0', 'weight_decay', 'maximize', 'foreach', 'capturable',
  'differentiable' }
ASGD._defaults = { lr = 1e-2, lambd = 1e-4, alpha = 0.75, t0 = 1e6, weight_decay = 0, maximize = false,
  foreach = false, capturable = false, differentiable = false }

local function f32(x) return string.unpack('f', string.pack('f', x)) end

function ASGD:__init(params, opts) parent.__init(self, params, opts) end

function ASGD:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'lambd')
  self:_check_number(o, 'alpha')
  self:_check_number(o, 't0')
  self:_check_number(o, 'weight_decay', 0)
  self:_check_bool(o, 'maximize')
end

function ASGD:_update(g)
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step, st.eta, st.mu, st.ax = 0, f32(g.lr), 1.0, torch.zeros_like(p)
    end
    st.step = st.step + 1
    local step = st.step
    if g.maximize then grad = -grad end
    if g.weight_decay ~= 0 then grad = grad:add(p, { alpha = g.weight_decay }) end
    p:mul_(1 - g.lambd * st.eta)
    p:add_(grad, { alpha = -st.eta })
    if st.mu ~= 1 then
      st.ax:add_(p:sub(st.ax):mul(torch.tensor(st.mu, { dtype = 'float32' })))
    else
      st.ax:copy_(p)
    end
    st.eta = f32(g.lr / ((1 + g.lambd * g.lr * step) ^ g.alpha))
    st.mu = f32(1 / math.max(1, step - g.t0))
  end
end

return ASGD
