-- nn.functional losses. cross_entropy, nll_loss and ctc_loss are fused C kernels
-- (torch.cross_entropy / torch.nll_loss / torch.ctc_loss) for 1-based class
-- targets; class probability targets, and the regression and binary losses, are
-- composed here from differentiable tensor ops. Options are a trailing table with PyTorch's
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

-- ctc_loss(log_probs, targets, input_lengths, target_lengths, {blank=1, reduction='mean',
-- zero_infinity=false}): the connectionist temporal classification loss (C kernel
-- torch.ctc_loss). log_probs (T, N, C) or unbatched (T, C) are log_softmax outputs (the
-- gradient assumes it, as PyTorch's does); targets (N, S) padded or 1-D concatenated
-- (sum(target_lengths)) hold 1-BASED class labels 1..C, never the blank; blank is 1-based
-- too and defaults to 1 (PyTorch's blank=0). input_lengths / target_lengths: integer
-- tensors or Lua tables of N integers (a number for unbatched input). 'mean' divides
-- each loss by its target length, then averages over the batch. A target that cannot
-- be aligned within its input length gives inf (0, with a zero gradient, when
-- zero_infinity=true; otherwise its gradient is NaN, as in PyTorch).
local function lengths_of(what, v)
  if torch.is_tensor(v) then return v end
  if math.type(v) == 'integer' then return torch.tensor(v) end
  if type(v) ~= 'table' then
    error(('CTCLoss: expected %s as an integer tensor or a table of integers, got %s'):format(what,
      math.type(v) or type(v)), 3)
  end
  for i = 1, #v do
    if math.type(v[i]) ~= 'integer' then
      error(('CTCLoss: %s must hold integers, got %s at position %d'):format(what, tostring(v[i]), i), 3)
    end
  end
  if #v == 0 then return torch.empty(0, { dtype = 'int64' }) end
  return torch.tensor(v, { dtype = 'int64' })
end

function F.ctc_loss(log_probs, targets, input_lengths, target_lengths, o)
  o = opts_of('ctc_loss', o)
  local r = reduction_of('CTCLoss', o)
  if not torch.is_tensor(log_probs) then
    error('CTCLoss: expected a tensor of log_probs, got ' .. torch.type(log_probs), 2)
  end
  if not torch.is_tensor(targets) then
    error('CTCLoss: expected a tensor of targets, got ' .. torch.type(targets), 2)
  end
  local zi = o.zero_infinity
  if zi ~= nil and type(zi) ~= 'boolean' then
    error('CTCLoss: zero_infinity must be a boolean, got ' .. type(zi), 2)
  end
  return torch.ctc_loss(log_probs, targets, lengths_of('input_lengths', input_lengths),
    lengths_of('target_lengths', target_lengths), { blank = o.blank, reduction = r, zero_infinity = zi })
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

-- ---- the other losses of PyTorch, composed from differentiable ops ----

local function check_tensor(fname, what, t)
  if not torch.is_tensor(t) then error(('%s: expected a tensor %s, got %s'):format(fname, what, type(t)), 3) end
end

local function check_float(fname, what, t)
  check_tensor(fname, what, t)
  if not t:is_floating_point() then
    error(('%s: expected a floating-point %s, got %s'):format(fname, what, t.dtype), 3)
  end
end

local function size_str(t) return t:dim() == 0 and '()' or table.concat(t:size(), 'x') end

-- poisson_nll_loss(input, target, {log_input=true, full=false, eps=1e-8, reduction='mean'}):
-- exp(input) - target * input (log_input) or input - target * log(input + eps); full
-- adds the Stirling term target log target - target + 0.5 log(2 pi target) where target > 1.
function F.poisson_nll_loss(input, target, o)
  o = opts_of('poisson_nll_loss', o)
  local r = reduction_of('poisson_nll_loss', o)
  check_pair('poisson_nll_loss', input, target, false)
  local log_input = o.log_input
  if log_input == nil then log_input = true end
  local loss
  if log_input then
    loss = input:exp() - target * input
  else
    loss = input - target * (input + (o.eps or 1e-8)):log()
  end
  if o.full then
    local safe = torch.where(target:gt(1), target, torch.ones_like(target))
    local stirling = safe * safe:log() - safe + (safe * (2 * math.pi)):log() * 0.5
    loss = loss + torch.where(target:gt(1), stirling, torch.zeros_like(stirling))
  end
  return reduce(loss, r)
end

-- gaussian_nll_loss(input, target, var, {full=false, eps=1e-6, reduction='mean'}):
-- 0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when full).
-- var has the input's shape, or it lacks (or has size 1 in) the last dim (one variance
-- per sample). The clamp at eps lets the gradient through unchanged, as in PyTorch.
function F.gaussian_nll_loss(input, target, var, o)
  o = opts_of('gaussian_nll_loss', o)
  local r = reduction_of('gaussian_nll_loss', o)
  check_pair('gaussian_nll_loss', input, target, false)
  check_float('gaussian_nll_loss', 'var', var)
  if not (var.shape == input.shape) then
    local isz, vsz = input:size(), var:size()
    if #isz > 0 and #vsz == #isz - 1 then
      local ok = true
      for i = 1, #vsz do ok = ok and vsz[i] == isz[i] end
      if not ok then error('gaussian_nll_loss: var is of incorrect size ' .. size_str(var), 2) end
      var = var:unsqueeze(-1)
    elseif #isz > 0 and #vsz == #isz and vsz[#vsz] == 1 then
      for i = 1, #vsz - 1 do
        if vsz[i] ~= isz[i] then error('gaussian_nll_loss: var is of incorrect size ' .. size_str(var), 2) end
      end
    else
      error('gaussian_nll_loss: var is of incorrect size ' .. size_str(var) .. ' for input ' .. size_str(input), 2)
    end
  end
  if var:numel() > 0 and var:detach():min():item() < 0 then
    error('gaussian_nll_loss: var has negative entry/entries', 2)
  end
  local eps = o.eps or 1e-6
  -- max(var, eps) in value, identity in gradient
  var = var + (var:detach():clamp_min(eps) - var:detach())
  local d = input - target
  local loss = (var:log() + d * d / var) * 0.5
  if o.full then loss = loss + 0.5 * math.log(2 * math.pi) end
  return reduce(loss, r)
end

-- the last dim of x as the feature dim: (N, D) or (D)
local function check_vectors(fname, ...)
  for i = 1, select('#', ...) do
    local t = select(i, ...)
    check_float(fname, 'input', t)
    if t:dim() ~= 1 and t:dim() ~= 2 then
      error(('%s: expected 1-d (D) or 2-d (N, D) inputs, got %dd'):format(fname, t:dim()), 3)
    end
  end
end

-- cosine_embedding_loss(x1, x2, y, {margin=0, reduction='mean'}): 1 - cos(x1, x2) where
-- y = 1, max(0, cos(x1, x2) - margin) where y = -1; cos over the last dim.
function F.cosine_embedding_loss(x1, x2, y, o)
  o = opts_of('cosine_embedding_loss', o)
  local r = reduction_of('cosine_embedding_loss', o)
  check_vectors('cosine_embedding_loss', x1, x2)
  check_tensor('cosine_embedding_loss', 'target', y)
  if x1:dim() ~= x2:dim() or x1:size(x1:dim()) ~= x2:size(x2:dim()) then
    error(('cosine_embedding_loss: x1 %s and x2 %s do not match'):format(size_str(x1), size_str(x2)), 2)
  end
  if y:dim() ~= x1:dim() - 1 then
    error(('cosine_embedding_loss: expected a %dd target, got %dd'):format(x1:dim() - 1, y:dim()), 2)
  end
  local margin = o.margin or 0
  local EPS = 1e-12
  local prod = (x1 * x2):sum(-1)
  local m1 = (x1 * x1):sum(-1) + EPS
  local m2 = (x2 * x2):sum(-1) + EPS
  local cos = prod / (m1 * m2):sqrt()
  local zeros = torch.zeros_like(cos)
  local loss = torch.where(y:eq(1), 1 - cos, zeros) + torch.where(y:eq(-1), (cos - margin):clamp_min(0), zeros)
  return reduce(loss, r)
end

-- margin_ranking_loss(x1, x2, y, {margin=0, reduction='mean'}): max(0, -y (x1 - x2) + margin)
function F.margin_ranking_loss(x1, x2, y, o)
  o = opts_of('margin_ranking_loss', o)
  local r = reduction_of('margin_ranking_loss', o)
  check_float('margin_ranking_loss', 'input1', x1)
  check_float('margin_ranking_loss', 'input2', x2)
  check_tensor('margin_ranking_loss', 'target', y)
  if x1:dim() ~= x2:dim() or x1:dim() ~= y:dim() then
    error(('margin_ranking_loss: input1 %s, input2 %s and target %s must have the same number of dims')
      :format(size_str(x1), size_str(x2), size_str(y)), 2)
  end
  return reduce((-y * (x1 - x2) + (o.margin or 0)):clamp_min(0), r)
end

-- hinge_embedding_loss(input, target, {margin=1, reduction='mean'}): x where y = 1,
-- max(0, margin - x) where y = -1
function F.hinge_embedding_loss(input, target, o)
  o = opts_of('hinge_embedding_loss', o)
  local r = reduction_of('hinge_embedding_loss', o)
  check_pair('hinge_embedding_loss', input, target, false)
  local margin = o.margin or 1.0
  local zeros = torch.zeros_like(input)
  local loss = torch.where(target:ne(1), (margin - input):clamp_min(0), zeros) +
    torch.where(target:ne(-1), input, zeros)
  return reduce(loss, r)
end

-- soft_margin_loss(input, target, {reduction='mean'}): log(1 + exp(-y x))
function F.soft_margin_loss(input, target, o)
  o = opts_of('soft_margin_loss', o)
  check_pair('soft_margin_loss', input, target, true)
  return reduce((-target * input):exp():log1p(), reduction_of('soft_margin_loss', o))
end

-- (N, C) or (C) input with a class target of matching batch shape
local function check_classes(fname, input, target, tdim)
  check_float(fname, 'input', input)
  check_tensor(fname, 'target', target)
  if target:is_floating_point() or target.dtype == 'bool' then
    error(('%s: expected integer (int64) class targets, got %s'):format(fname, target.dtype), 3)
  end
  if input:dim() ~= 1 and input:dim() ~= 2 then
    error(('%s: expected a 1-d (C) or 2-d (N, C) input, got %dd'):format(fname, input:dim()), 3)
  end
  local want = tdim(input)
  if not (target.shape == want) then
    error(('%s: expected a target of size %s for input %s, got %s'):format(fname,
      #want == 0 and '()' or table.concat(want, 'x'), size_str(input), size_str(target)), 3)
  end
end

-- multilabel_soft_margin_loss(input, target, {weight=, reduction='mean'}): per sample, the
-- mean over the C classes of -(y log sigmoid(x) + (1 - y) log sigmoid(-x)) (times weight)
function F.multilabel_soft_margin_loss(input, target, o)
  o = opts_of('multilabel_soft_margin_loss', o)
  local r = reduction_of('multilabel_soft_margin_loss', o)
  check_pair('multilabel_soft_margin_loss', input, target, true)
  if input:dim() == 0 then error('multilabel_soft_margin_loss: expected a (C) or (N, C) input, got a scalar', 2) end
  local function logsig(z) return -((-z:abs()):exp():log1p() + (-z):relu()) end
  local loss = -(target * logsig(input) + (1 - target) * logsig(-input))
  if o.weight ~= nil then loss = loss * o.weight end
  loss = loss:sum(-1) / input:size(input:dim())
  return reduce(loss, r)
end

-- multi_margin_loss(input, target, {p=1, margin=1, weight=, reduction='mean'}): per sample,
-- sum over j ~= y of max(0, margin - x[y] + x[j])^p / C (times weight[y]); target holds
-- 1-based class labels, (N) for an (N, C) input or () for a (C) input.
function F.multi_margin_loss(input, target, o)
  o = opts_of('multi_margin_loss', o)
  local r = reduction_of('multi_margin_loss', o)
  check_classes('multi_margin_loss', input, target, function(x)
    return x:dim() == 2 and { x:size(1) } or {} end)
  local p, margin = o.p or 1, o.margin or 1
  if p ~= 1 and p ~= 2 then error('multi_margin_loss: only p == 1 and p == 2 are supported, got ' .. tostring(p), 2) end
  local one = input:dim() == 1
  local x = one and input:unsqueeze(1) or input
  local t = (one and target:reshape(1) or target):to('int64')
  local C = x:size(2)
  if t:numel() > 0 then
    local lo, hi = t:min():item(), t:max():item()
    if lo < 1 or hi > C then
      error(('multi_margin_loss: target %d is out of range 1..%d'):format(lo < 1 and lo or hi, C), 2)
    end
  end
  local ti = t:unsqueeze(2)
  local z = (x - x:gather(2, ti) + margin):clamp_min(0)
  if p == 2 then z = z * z end
  if o.weight ~= nil then
    check_float('multi_margin_loss', 'weight', o.weight)
    z = z * o.weight:index_select(1, t):unsqueeze(2)
  end
  local others = torch.ones_like(z):scatter(2, ti, 0)
  local loss = (z * others):sum(2) / C
  if one then loss = loss:reshape({}) end
  return reduce(loss, r)
end

-- multilabel_margin_loss(input, target, {reduction='mean'}): per sample, the sum over its
-- target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])), over C.
-- target has the input's shape and lists 1-based class labels, ended by the first 0
-- (PyTorch's 0-based labels are ended by -1; Ember's labels start at 1, so 0 ends the list).
function F.multilabel_margin_loss(input, target, o)
  o = opts_of('multilabel_margin_loss', o)
  local r = reduction_of('multilabel_margin_loss', o)
  check_classes('multilabel_margin_loss', input, target, function(x) return x:size() end)
  local one = input:dim() == 1
  local x = one and input:unsqueeze(1) or input
  local t = (one and target:unsqueeze(1) or target):to('int64')
  local C = x:size(2)
  if t:numel() > 0 then
    local lo, hi = t:min():item(), t:max():item()
    if lo < 0 or hi > C then
      error(('multilabel_margin_loss: target %d is out of range 0..%d (0 ends the list)'):format(
        lo < 0 and lo or hi, C), 2)
    end
  end
  local valid = t:gt(0):to('int64'):cumprod(2)                  -- (N, C): entries before the first 0
  local ti = torch.where(valid:gt(0), t, torch.ones_like(t))     -- safe indices
  local vx = valid:to(x.dtype)
  local is_target = torch.zeros_like(x):scatter_add(2, ti, vx):gt(0):to(x.dtype)
  local xt = x:gather(2, ti)                                      -- (N, C) scores of the listed targets
  local z = (1 - xt:unsqueeze(3) + x:unsqueeze(2)):clamp_min(0)  -- (N, Ct, C)
  local mask = vx:unsqueeze(3) * (1 - is_target):unsqueeze(2)
  local loss = (z * mask):sum(3):sum(2) / C
  if one then loss = loss:reshape({}) end
  return reduce(loss, r)
end

-- triplet_margin_loss(anchor, positive, negative, {margin=1, p=2, eps=1e-6, swap=false,
-- reduction='mean'}): max(0, margin + d(a, p) - d(a, n)), d(u, v) = ||u - v + eps||_p over
-- the last dim; swap uses min(d(a, n), d(p, n)).
function F.triplet_margin_loss(a, pos, neg, o)
  o = opts_of('triplet_margin_loss', o)
  local r = reduction_of('triplet_margin_loss', o)
  check_vectors('triplet_margin_loss', a, pos, neg)
  if not (a.shape == pos.shape and a.shape == neg.shape) then
    error(('triplet_margin_loss: anchor %s, positive %s and negative %s must have the same shape'):format(
      size_str(a), size_str(pos), size_str(neg)), 2)
  end
  local p, eps, margin = o.p or 2, o.eps or 1e-6, o.margin or 1.0
  if margin <= 0 then error('triplet_margin_loss: margin must be greater than 0, got ' .. tostring(margin), 2) end
  local function dist(u, v) return (u - v + eps):norm(p, { dim = -1 }) end
  local d_ap, d_an = dist(a, pos), dist(a, neg)
  if o.swap then d_an = torch.minimum(d_an, dist(pos, neg)) end
  return reduce((margin + d_ap - d_an):clamp_min(0), r)
end

return F
