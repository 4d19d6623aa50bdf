-- Loss modules: each wraps its nn.functional form (lua/nn/functional/loss.lua)
-- with PyTorch's constructor arguments, positionally or as a trailing options
-- table: nn.CrossEntropyLoss{weight=w, label_smoothing=0.1}, nn.MSELoss{reduction='sum'},
-- nn.MarginRankingLoss(0.5). The legacy size_average / reduce arguments map to a
-- reduction as PyTorch maps them ({size_average=false} is 'sum', {reduce=false}
-- is 'none'); the module keeps only `reduction`. Class weights (weight,
-- pos_weight) are buffers, so they follow :to() and appear in state_dict. As in
-- PyTorch, losses print without arguments: MSELoss().
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local classes = {}

local function legacy_reduction(what, a)
  if a.size_average ~= nil or a.reduce ~= nil then
    if a.reduce == false then return 'none' end
    if a.size_average == false then return 'sum' end
    return 'mean'
  end
  local r = a.reduction
  if r ~= 'mean' and r ~= 'sum' and r ~= 'none' and not (r == 'batchmean' and what == 'KLDivLoss') then
    error(what .. ": reduction must be 'mean', 'sum' or 'none', got '" .. tostring(r) .. "'", 4)
  end
  return r
end

-- define(name, fn, names, defaults, nin, buffers, ntensors): a loss module whose
-- forward takes nin arguments and calls F[fn](a1, ..., anin, options); the first
-- ntensors of them (default nin) must be tensors; `names` are the constructor's
-- arguments in PyTorch's order; those in `buffers` are registered as buffers, the
-- other options (not size_average / reduce) are fields passed to F.
local function define(name, fn, names, defaults, nin, buffers, ntensors)
  local class, Module = torch.class('nn.' .. name, 'nn.Module')
  local f = F[fn]
  buffers = buffers or {}
  local isbuf = {}
  for _, b in ipairs(buffers) do isbuf[b] = true end
  defaults.reduction = defaults.reduction or 'mean'
  function class:__init(...)
    Module.__init(self)
    local a = nn._args(name, names, defaults, ...)
    for _, k in ipairs(names) do
      if isbuf[k] then
        if a[k] ~= nil and not torch.isTensor(a[k]) then
          error(('%s: %s must be a tensor, got %s'):format(name, k, torch.type(a[k])), 2)
        end
        self:register_buffer(k, a[k])
      elseif k ~= 'size_average' and k ~= 'reduce' and k ~= 'reduction' then
        self[k] = a[k]
      end
    end
    self.reduction = legacy_reduction(name, a)
  end
  function class:forward(...)
    local n = select('#', ...)
    if n ~= nin then
      error(('%s: expected %d tensor arguments, got %d'):format(name, nin, n), 2)
    end
    for i = 1, ntensors or nin do
      local t = select(i, ...)
      if not torch.isTensor(t) then
        error(('%s: argument %d must be a tensor, got %s'):format(name, i, torch.type(t)), 2)
      end
    end
    local o = { reduction = self.reduction }
    for _, k in ipairs(names) do
      if k ~= 'size_average' and k ~= 'reduce' and k ~= 'reduction' then o[k] = self[k] end
    end
    if nin == 2 then
      local x, t = ...
      return f(x, t, o)
    end
    if nin == 3 then
      local x, y, z = ...
      return f(x, y, z, o)
    end
    local args = table.pack(...)
    args[nin + 1] = o
    return f(table.unpack(args, 1, nin + 1))
  end
  classes[name] = class
  return class
end

local SR = { 'size_average', 'reduce', 'reduction' }
local function with(before, after)
  local r = {}
  for _, k in ipairs(before) do r[#r + 1] = k end
  for _, k in ipairs(after or {}) do r[#r + 1] = k end
  return r
end

define('L1Loss', 'l1_loss', SR, {}, 2)
define('MSELoss', 'mse_loss', SR, {}, 2)
define('SmoothL1Loss', 'smooth_l1_loss', with(SR, { 'beta' }), { beta = 1.0 }, 2)
define('HuberLoss', 'huber_loss', { 'reduction', 'delta' }, { delta = 1.0 }, 2)
define('SoftMarginLoss', 'soft_margin_loss', SR, {}, 2)
define('KLDivLoss', 'kl_div', with(SR, { 'log_target' }), { log_target = false }, 2)
define('BCELoss', 'binary_cross_entropy', with({ 'weight' }, SR), {}, 2, { 'weight' })
define('BCEWithLogitsLoss', 'binary_cross_entropy_with_logits', with({ 'weight' }, with(SR, { 'pos_weight' })), {}, 2,
  { 'weight', 'pos_weight' })
define('CrossEntropyLoss', 'cross_entropy',
  { 'weight', 'size_average', 'ignore_index', 'reduce', 'reduction', 'label_smoothing' },
  { ignore_index = -100, label_smoothing = 0.0 }, 2, { 'weight' })
define('NLLLoss', 'nll_loss', { 'weight', 'size_average', 'ignore_index', 'reduce', 'reduction' },
  { ignore_index = -100 }, 2, { 'weight' })
define('PoissonNLLLoss', 'poisson_nll_loss', { 'log_input', 'full', 'size_average', 'eps', 'reduce', 'reduction' },
  { log_input = true, full = false, eps = 1e-8 }, 2)
define('GaussianNLLLoss', 'gaussian_nll_loss', { 'full', 'eps', 'reduction' }, { full = false, eps = 1e-6 }, 3)
define('CosineEmbeddingLoss', 'cosine_embedding_loss', with({ 'margin' }, SR), { margin = 0.0 }, 3)
define('MarginRankingLoss', 'margin_ranking_loss', with({ 'margin' }, SR), { margin = 0.0 }, 3)
define('HingeEmbeddingLoss', 'hinge_embedding_loss', with({ 'margin' }, SR), { margin = 1.0 }, 2)
-- target: 1-based class lists ended by the first 0 (PyTorch: 0-based, ended by -1)
define('MultiLabelMarginLoss', 'multilabel_margin_loss', SR, {}, 2)
define('MultiLabelSoftMarginLoss', 'multilabel_soft_margin_loss', with({ 'weight' }, SR), {}, 2, { 'weight' })
define('MultiMarginLoss', 'multi_margin_loss', with({ 'p', 'margin', 'weight' }, SR), { p = 1, margin = 1.0 }, 2,
  { 'weight' })
define('TripletMarginLoss', 'triplet_margin_loss', with({ 'margin', 'p', 'eps', 'swap' }, SR),
  { margin = 1.0, p = 2.0, eps = 1e-6, swap = false }, 3)
-- CTCLoss(blank=1, reduction='mean', zero_infinity=false): forward(log_probs, targets,
-- input_lengths, target_lengths), the lengths as integer tensors or Lua tables. Labels
-- and blank are 1-based (PyTorch's blank=0 is Ember's blank=1).
define('CTCLoss', 'ctc_loss', { 'blank', 'reduction', 'zero_infinity', 'size_average', 'reduce' },
  { blank = 1, zero_infinity = false }, 4, nil, 2)

return classes
