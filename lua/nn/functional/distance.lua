-- nn.functional distances: cosine_similarity and pairwise_distance, composed from
-- differentiable tensor ops (dims are 1-based).
local torch = require 'torch'

local M = {}

local function check(op, x1, x2)
  if not torch.isTensor(x1) or not torch.isTensor(x2) then
    error(('%s: expected two tensors, got %s and %s'):format(op, torch.type(x1), torch.type(x2)), 3)
  end
end

-- cosine_similarity(x1, x2 [, dim=2] [, eps=1e-8]) or (x1, x2, {dim=, eps=}):
-- sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)) along dim, after broadcasting
function M.cosine_similarity(x1, x2, dim, eps)
  check('cosine_similarity', x1, x2)
  if type(dim) == 'table' then dim, eps = dim.dim, dim.eps end
  dim, eps = dim or 2, eps or 1e-8
  local n1 = x1:norm(2, dim, { keepdim = true })
  local n2 = x2:norm(2, dim, { keepdim = true })
  -- norms below eps count as eps; the gradient still flows as through the norm
  n1 = n1 + (n1:detach():clamp(eps) - n1:detach())
  n2 = n2 + (n2:detach():clamp(eps) - n2:detach())
  local w12 = (x1 * x2):sum(dim)
  local denom = (n1 * n2):squeeze(dim)
  return w12 / denom
end

-- pairwise_distance(x1, x2 [, p=2] [, eps=1e-6] [, keepdim=false]) or with an options
-- table: the p-norm of x1 - x2 + eps over the last dim
function M.pairwise_distance(x1, x2, p, eps, keepdim)
  check('pairwise_distance', x1, x2)
  if type(p) == 'table' then p, eps, keepdim = p.p, p.eps, p.keepdim end
  p, eps = p or 2, eps or 1e-6
  local d = x1 - x2 + eps
  local dim = math.max(d:dim(), 1)
  return d:norm(p, dim, { keepdim = keepdim or false })
end

return M
