-- F.cosine_similarity and F.pairwise_distance against PyTorch 1.13 fixtures
-- (scripts/fixtures/gen_nn_distance.py): values and both input gradients.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_distance')
local tol = { rtol = 1e-5, atol = 1e-6 }

describe('nn.functional distances', function()
  for name, c in pairs(fx) do
    it(name .. ' matches PyTorch', function()
      local x1, x2 = H.tensor(c.x1):requires_grad_(), H.tensor(c.x2):requires_grad_()
      local out
      if name:sub(1, 3) == 'cos' then
        out = F.cosine_similarity(x1, x2, c.dim)
      else
        out = F.pairwise_distance(x1, x2, { p = c.p, keepdim = c.keepdim })
      end
      H.assert_close(out, c.out, tol)
      out:sum():backward()
      H.assert_close(x1.grad, c.g1, tol)
      H.assert_close(x2.grad, c.g2, tol)
    end)
  end

  it('pass gradcheck and refuse non-tensors', function()
    local a = torch.randn(3, 4, { dtype = 'float64', requires_grad = true })
    local b = torch.randn(3, 4, { dtype = 'float64', requires_grad = true })
    assert.is_true(torch.autograd.gradcheck(function(x, y) return F.cosine_similarity(x, y) end, { a, b }))
    assert.is_true(torch.autograd.gradcheck(function(x, y) return F.pairwise_distance(x, y, 3) end, { a, b }))
    H.assert_error(function() F.cosine_similarity(a, 1) end, 'cosine_similarity: expected two tensors')
  end)
end)

describe('nn.CosineSimilarity and nn.PairwiseDistance', function()
  it('compute the functional forms', function()
    local a, b = torch.randn(3, 4), torch.randn(3, 4)
    H.assert_close(nn.CosineSimilarity(2)(a, b), F.cosine_similarity(a, b, 2), { rtol = 1e-6 })
    H.assert_close(nn.PairwiseDistance({ p = 1 })(a, b), F.pairwise_distance(a, b, 1), { rtol = 1e-6 })
    H.assert_error(function() nn.PairwiseDistance({ q = 1 }) end, 'unknown option \'q\'')
  end)
end)
