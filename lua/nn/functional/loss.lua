-- nn.functional losses. cross_entropy and nll_loss are fused C kernels
-- (torch.cross_entropy / torch.nll_loss) for 1-based class targets; class
-- probability targets, and the regression and binary losses, are composed here
-- from differentiable tensor ops. Options are a trailing table with PyTorch's
-- names: {reduction='mean'|'sum'|'none', weight=, ...}; the legacy
-- {size_average=, reduce=} of old tutorials maps as PyTorch maps it
-- ({size_average=false} means 'sum', {reduce=false} means 'none').
local torch = require 'torch'

local F = {}

local function opts_of(fname, o)
  if o == nil then return {} end
  if type(o) ~= 'table' or torch.is_tensor(o) then
    error(fname .. ': expected an options table, got ' .. (torch.is_tensor(o) and 'a tensor' or type(o)), 3)
  end
  return o
end

-- The reduction named by the options (legacy size_average / reduce included).
local function reduction_of(fname, o)
  if o.size_average ~= nil or o.reduce ~= nil then
    if o.reduce == false then return 'none' end
    if o.size_average == false then return 'sum' end
    return 'mean'
  end
  local r = o.reduction or 'mean'
  if r ~= 'mean' and r ~= 'sum' and r ~= 'none' then
    error(fname .. ": reduction must be 'mean', 'sum' or 'none', got '" .. tostring(r) .. "'", 3)
  end
  return r
end

local function reduce(loss, r)
  if r == 'mean' then return loss:mean() end
  if r == 'sum' then return loss:sum() end
  return loss
end

local function check_pair(fname, input, target, same_shape)
  if not torch.is_tensor(input) then error(fname .. ': expected a tensor input, got ' .. type(input), 3) end
  if not torch.is_tensor(target) then error(fname .. ': expected a tensor target, got ' .. type(target), 3) end
  if not input:is_floating_point() then
    error(fname .. ': expected a floating-point input, got ' .. input.dtype, 3)
  end
  if same_shape and not (input.shape == target.shape) then
    local function s(t) return table.concat(t:size(), 'x') end
    error(fname .. ': expected target of the input\'s shape ' .. s(input) .. ', got ' .. s(target), 3)
  end
end

-- ---- classification ----

-- weight (C) viewed along the class dim of an input with nd dims
local function class_view(w, nd)
  if nd <= 1 then return w end
  local shape = {}
  for i = 1, nd do shape[i] = 1 end
  shape[2] = w:numel()
  return w:reshape(shape)
end

-- cross_entropy(input, target, {weight=, ignore_index=-100, reduction='mean', label_smoothing=0})
-- input (C), (N, C) or (N, C, d1, ...) of logits; target: 1-based class labels of
-- shape (), (N) or (N, d1, ...), or class probabilities of the input's shape.
function F.cross_entropy(input, target, o)
  o = opts_of('cross_entropy', o)
  local r = reduction_of('cross_entropy', o)
  check_pair('cross_entropy', input, target, false)
  if target:is_floating_point() then
    if not (input.shape == target.shape) then
      local function s(t) return table.concat(t:size(), 'x') end
      error('cross_entropy: class-probability targets must have the input\'s shape ' .. s(input) .. ', got ' ..
        s(target), 2)
    end
    local cdim = input:dim() == 1 and 1 or 2
    local C = input:size(cdim)
    local eps = o.label_smoothing or 0
    if eps < 0 or eps > 1 then error('cross_entropy: label_smoothing must be between 0 and 1, got ' .. eps, 2) end
    if eps > 0 then target = target * (1 - eps) + eps / C end
    local terms = input:log_softmax(cdim) * target
    if o.weight ~= nil then terms = terms * class_view(o.weight, input:dim()) end
    local loss = -terms:sum(cdim)
    if r == 'mean' then return loss:sum() / (input:numel() / C) end
    return reduce(loss, r)
  end
  return torch.cross_entropy(input, target, { weight = o.weight, ignore_index = o.ignore_index, reduction = r,
    label_smoothing = o.label_smoothing })
end

-- nll_loss(log_probs, target, {weight=, ignore_index=-100, reduction='mean'}); 1-based labels.
function F.nll_loss(input, target, o)
  o = opts_of('nll_loss', o)
  local r = reduction_of('nll_loss', o)
  check_pair('nll_loss', input, target, false)
  return torch.nll_loss(input, target, { weight = o.weight, ignore_index = o.ignore_index, reduction = r })
end

-- ---- regression ----

function F.mse_loss(input, target, o)
  o = opts_of('mse_loss', o)
  check_pair('mse_loss', input, target, true)
  local d = input - target
  return reduce(d * d, reduction_of('mse_loss', o))
end

function F.l1_loss(input, target, o)
  o = opts_of('l1_loss', o)
  check_pair('l1_loss', input, target, true)
  return reduce((input - target):abs(), reduction_of('l1_loss', o))
end

-- smooth_l1_loss(input, target, {beta=1}): 0.5 d^2 / beta below beta, |d| - 0.5 beta above
function F.smooth_l1_loss(input, target, o)
  o = opts_of('smooth_l1_loss', o)
  check_pair('smooth_l1_loss', input, target, true)
  local beta = o.beta or 1.0
  if beta < 0 then error('smooth_l1_loss: beta must be non-negative, got ' .. beta, 2) end
  local r = reduction_of('smooth_l1_loss', o)
  local d = (input - target):abs()
  if beta == 0 then return reduce(d, r) end
  return reduce(torch.where(d:lt(beta), d * d * (0.5 / beta), d - 0.5 * beta), r)
end

-- huber_loss(input, target, {delta=1}): 0.5 d^2 up to delta, delta (|d| - 0.5 delta) above
function F.huber_loss(input, target, o)
  o = opts_of('huber_loss', o)
  check_pair('huber_loss', input, target, true)
  local delta = o.delta or 1.0
  if delta <= 0 then error('huber_loss: delta must be positive, got ' .. delta, 2) end
  local d = (input - target):abs()
  return reduce(torch.where(d:le(delta), d * d * 0.5, (d - 0.5 * delta) * delta), reduction_of('huber_loss', o))
end

-- ---- binary ----

-- binary_cross_entropy(probs, target, {weight=}): log terms clamped at -100 as PyTorch does
function F.binary_cross_entropy(input, target, o)
  o = opts_of('binary_cross_entropy', o)
  check_pair('binary_cross_entropy', input, target, true)
  local lo, hi = input:detach():min():item(), input:detach():max():item()
  if input:numel() > 0 and (lo < 0 or hi > 1) then
    error(string.format('binary_cross_entropy: input values must be between 0 and 1, got %g..%g', lo, hi), 2)
  end
  local loss = -(target * input:log():clamp_min(-100) + (1 - target) * (1 - input):log():clamp_min(-100))
  if o.weight ~= nil then loss = loss * o.weight end
  return reduce(loss, reduction_of('binary_cross_entropy', o))
end

-- binary_cross_entropy_with_logits(logits, target, {weight=, pos_weight=}), stable for
-- large |logits|: (1 - y) x + (1 + (pw - 1) y) (log1p(exp(-|x|)) + max(-x, 0))
function F.binary_cross_entropy_with_logits(input, target, o)
  o = opts_of('binary_cross_entropy_with_logits', o)
  check_pair('binary_cross_entropy_with_logits', input, target, true)
  local softplus_neg = (-input:abs()):exp():log1p() + (-input):relu()
  local loss
  if o.pos_weight ~= nil then
    local lw = (o.pos_weight - 1) * target + 1
    loss = (1 - target) * input + lw * softplus_neg
  else
    loss = (1 - target) * input + softplus_neg
  end
  if o.weight ~= nil then loss = loss * o.weight end
  return reduce(loss, reduction_of('binary_cross_entropy_with_logits', o))
end

-- kl_div(log_probs, target, {reduction='mean', log_target=false}); 'batchmean'
-- divides the sum by the batch size (PyTorch's recommended reduction).
function F.kl_div(input, target, o)
  o = opts_of('kl_div', o)
  check_pair('kl_div', input, target, true)
  local loss
  if o.log_target then
    loss = target:exp() * (target - input)
  else
    -- xlogy: 0 where the target is 0
    local safe = torch.where(target:gt(0), target, torch.ones_like(target))
    loss = target * safe:log() - target * input
  end
  if o.reduction == 'batchmean' then
    return loss:sum() / (input:dim() > 0 and input:size(1) or 1)
  end
  return reduce(loss, reduction_of('kl_div', o))
end

return F
