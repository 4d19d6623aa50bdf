-- nn.functional embedding and one_hot. Indices are 1-based (Ember's convention):
-- row i of the weight is the embedding of index i.
local torch = require 'torch'

local F = {}

-- Renormalises, in place and without recording, the rows of weight that idx
-- references whose norm exceeds max_norm (PyTorch's embedding_renorm_).
local function renorm_(weight, idx, max_norm, norm_type)
  torch.no_grad(function()
    local rows = idx:unique()
    local w = weight:index_select(1, rows)
    local norms = w:norm(norm_type, { dim = 2, keepdim = true })
    local scale = torch.where(norms:gt(max_norm), max_norm / (norms + 1e-7), torch.ones_like(norms))
    weight:index_copy_(1, rows, w * scale)
  end)
end

-- embedding(input, weight, {padding_idx=, max_norm=, norm_type=2}): weight[input]
-- with shape input.shape .. (D). The padding_idx row gets no gradient; max_norm
-- renormalises the referenced rows of weight in place first.
function F.embedding(input, weight, o)
  if type(o) ~= 'table' or torch.is_tensor(o) then
    if o ~= nil then o = { padding_idx = o } else o = {} end
  end
  if not torch.is_tensor(input) then error('embedding: expected a tensor of indices, got ' .. type(input), 2) end
  if not torch.is_tensor(weight) or weight:dim() ~= 2 then
    error('embedding: expected a 2-d weight (num_embeddings, embedding_dim)', 2)
  end
  if input:is_floating_point() or input.dtype == 'bool' then
    error('embedding: expected integer (int64) indices, got ' .. input.dtype, 2)
  end
  local n = weight:size(1)
  local flat = input:reshape(-1)
  if flat:numel() > 0 then
    local lo, hi = flat:min():item(), flat:max():item()
    if lo < 1 or hi > n then
      error(string.format('embedding: index %d is out of range 1..%d', lo < 1 and lo or hi, n), 2)
    end
  end
  if o.max_norm ~= nil then renorm_(weight, flat, o.max_norm, o.norm_type or 2) end
  local out = weight:index_select(1, flat)
  local pad = o.padding_idx
  if pad ~= nil then
    if pad < 0 then pad = n + 1 + pad end
    if pad < 1 or pad > n then
      error(string.format('embedding: padding_idx %d is out of range 1..%d', o.padding_idx, n), 2)
    end
    out = torch.where(flat:ne(pad):unsqueeze(2), out, out:detach())
  end
  local shape = input:size()
  shape[#shape + 1] = weight:size(2)
  return out:reshape(shape)
end

local BAG_NAMES = { 'offsets', 'max_norm', 'norm_type', 'scale_grad_by_freq', 'mode', 'sparse',
  'per_sample_weights', 'include_last_offset', 'padding_idx' }
local BAG_DEFAULTS = { norm_type = 2.0, scale_grad_by_freq = false, mode = 'mean', sparse = false,
  include_last_offset = false }

-- embedding_bag(input, weight [, {offsets=, max_norm=, norm_type=2, scale_grad_by_freq=false,
-- mode='mean', sparse=false, per_sample_weights=, include_last_offset=false, padding_idx=}])
-- (or the same options positionally, in PyTorch's order): the sum, mean or max of the
-- rows of weight selected by each bag, (B, embedding_dim). Bags are the rows of a 2-d
-- (B, L) input, or runs of a 1-d input starting at `offsets`, 1-BASED positions into
-- input ({1, 3}: bags input[1..2] and input[3..N]); offsets[1] must be 1. With
-- include_last_offset the last offset is N + 1 (the end) and there is one bag fewer
-- than offsets. per_sample_weights (input's shape) scale the rows, mode 'sum' only.
-- padding_idx entries are left out of their bag and of the mean's count; an empty
-- bag gives zeros. max_norm renormalises the referenced rows of weight in place first.
-- One fused C kernel (torch.embedding_bag); first-order gradients only.
function F.embedding_bag(input, weight, ...)
  local a = require('nn.functional')._args('embedding_bag', BAG_NAMES, BAG_DEFAULTS, ...)
  if not torch.is_tensor(input) then error('embedding_bag: expected a tensor of indices, got ' .. torch.type(input), 2) end
  if not torch.is_tensor(weight) or weight:dim() ~= 2 then
    error('embedding_bag: expected a 2-d weight (num_embeddings, embedding_dim), got '
      .. (torch.is_tensor(weight) and (weight:dim() .. '-d') or torch.type(weight)), 2)
  end
  if a.sparse then error('embedding_bag: sparse gradients (sparse=true) are not supported', 2) end
  if a.mode == 'max' and a.scale_grad_by_freq then
    error("embedding_bag: mode 'max' does not support scale_grad_by_freq", 2)
  end
  if input:is_floating_point() or input.dtype == 'bool' then
    error('embedding_bag: expected integer (int64) indices, got ' .. input.dtype, 2)
  end
  if input:dim() == 2 and a.offsets ~= nil then
    error('embedding_bag: offsets must be nil for a 2-d input (B, L), got offsets', 2)
  end
  if input:dim() == 1 and a.offsets == nil then
    error('embedding_bag: a 1-d input needs offsets (the 1-based start of each bag)', 2)
  end
  if input:dim() ~= 1 and input:dim() ~= 2 then
    error(('embedding_bag: expected a 1-d input with offsets or a 2-d input (B, L), got %d-d'):format(input:dim()), 2)
  end
  local offsets = a.offsets
  if type(offsets) == 'table' and not torch.is_tensor(offsets) then offsets = torch.tensor(offsets, { dtype = 'int64' }) end
  if a.max_norm ~= nil then
    if type(a.max_norm) ~= 'number' then
      error('embedding_bag: max_norm must be a number, got ' .. torch.type(a.max_norm), 2)
    end
    local flat, n = input:reshape(-1), weight:size(1)
    if flat:numel() > 0 then
      local lo, hi = flat:min():item(), flat:max():item()
      if lo < 1 or hi > n then
        error(string.format('embedding_bag: index %d is out of range 1..%d', lo < 1 and lo or hi, n), 2)
      end
      renorm_(weight, flat, a.max_norm, a.norm_type)
    end
  end
  local ok, res = pcall(torch.embedding_bag, weight, input, offsets, { mode = a.mode,
    per_sample_weights = a.per_sample_weights, padding_idx = a.padding_idx,
    include_last_offset = a.include_last_offset and true or false,
    scale_grad_by_freq = a.scale_grad_by_freq and true or false })
  if not ok then error(res, 2) end
  return res
end

-- one_hot(labels, num_classes=-1): 1-based labels -> int64 rows with a 1 at the label
function F.one_hot(t, num_classes)
  if not torch.is_tensor(t) then error('one_hot: expected a tensor of labels, got ' .. type(t), 2) end
  return t:one_hot(num_classes or -1)
end

return F
