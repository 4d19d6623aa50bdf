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

-- one_hot(labels, num_classes=-1): 1-based labels -> int64 rows with a 1 at the label
function F.one_hot(t, num_classes)
  if not torch.is_tensor(t) then error('one_hot: expected a tensor of labels, got ' .. type(t), 2) end
  return t:one_hot(num_classes or -1)
end

return F
