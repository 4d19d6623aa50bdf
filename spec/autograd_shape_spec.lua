-- Autograd of views, shape ops and linear algebra: gradcheck of every op with
-- contiguous and non-contiguous inputs (and broadcast ones where the op
-- broadcasts), gradgradcheck where double backward applies, and hand-computed
-- gradients through view chains, in-place writes through views, out= and the
-- no-grad fast path.
local torch = require 'torch'
local H = require 'spec.support.helpers'
local ag = torch.autograd

local gen = torch.Generator():manual_seed(20261122)
local function R(...)
  return torch.randn({ ... }, { dtype = 'float64', generator = gen })
end

-- gradcheck reads its outputs after restoring the perturbed input, so an output
-- that is a view of an input would read the restored values; a product with 1
-- makes every output (and, for gradgradcheck, every gradient) fresh memory.
local function fresh(fn)
  return function(...)
    local res = table.pack(fn(...))
    for i = 1, res.n do
      if torch.isTensor(res[i]) then res[i] = res[i] * 1 end
    end
    return table.unpack(res, 1, res.n)
  end
end

local function grads(list)
  for _, t in ipairs(list) do
    if torch.isTensor(t) then t:requires_grad_(true) end
  end
  return list
end

-- The same values in non-contiguous tensors.
local function noncontig(list)
  local out = {}
  for i, t in ipairs(list) do
    if torch.isTensor(t) and t:dim() > 0 and t:numel() > 1 then
      out[i] = H.noncontig(t)
    else
      out[i] = t
    end
  end
  return out
end

-- name, fn(inputs...), inputs() (plain float64 tensors; the ones that get
-- gradients are the tensors listed first, `nograd` of the last are constants),
-- gg = also gradgradcheck.
local cases = {
  -- views
  { 'view', function(x) return x:view(4, 3) end, function() return { R(3, 4) } end, contig_only = true },
  { 'reshape', function(x) return x:reshape(2, 6) end, function() return { R(3, 4) } end },
  { 'view_as', function(x, y) return x:view_as(y) end, function() return { R(3, 4), R(2, 6) } end,
    nograd = 1, contig_only = true },
  { 'reshape_as', function(x, y) return x:reshape_as(y) end, function() return { R(3, 4), R(6, 2) } end, nograd = 1 },
  { 'permute', function(x) return x:permute(3, 1, 2) end, function() return { R(2, 3, 2) } end, gg = true },
  { 'transpose', function(x) return x:transpose(1, 2) end, function() return { R(3, 4) } end, gg = true },
  { 'transpose 3-d', function(x) return x:transpose(3, 1) end, function() return { R(2, 3, 2) } end },
  { 't', function(x) return x:t() end, function() return { R(3, 4) } end },
  { 't of 1-d', function(x) return x:t() end, function() return { R(4) } end },
  { 'T', function(x) return x.T end, function() return { R(2, 3, 2) } end },
  { 'narrow', function(x) return x:narrow(2, 2, 2) end, function() return { R(3, 4) } end, gg = true },
  { 'narrow from the end', function(x) return x:narrow(1, -2, 2) end, function() return { R(3, 4) } end },
  { 'select', function(x) return x:select(2, 3) end, function() return { R(3, 4) } end, gg = true },
  { 'select negative', function(x) return x:select(1, -1) end, function() return { R(3, 4) } end },
  { 'squeeze', function(x) return x:squeeze() end, function() return { R(3, 1, 4) } end },
  { 'squeeze dim', function(x) return x:squeeze(2) end, function() return { R(3, 1, 4) } end },
  { 'unsqueeze', function(x) return x:unsqueeze(2) end, function() return { R(3, 4) } end },
  { 'unsqueeze last', function(x) return x:unsqueeze(-1) end, function() return { R(3, 4) } end },
  { 'expand', function(x) return x:expand(3, 4) end, function() return { R(1, 4) } end },
  { 'expand_as', function(x, y) return x:expand_as(y) end, function() return { R(3, 1), R(3, 4) } end, nograd = 1,
    gg = true },
  { 'expand new dims', function(x) return x:expand(2, 3, 2) end, function() return { R(3, 1) } end },
  { 'flatten', function(x) return x:flatten() end, function() return { R(2, 3, 2) } end },
  { 'flatten range', function(x) return x:flatten(2, 3) end, function() return { R(2, 3, 2) } end },
  { 'unflatten', function(x) return x:unflatten(2, { 2, 2 }) end, function() return { R(3, 4) } end },
  { 'unfold overlapping', function(x) return x:unfold(2, 3, 1) end, function() return { R(2, 5) } end, gg = true },
  { 'unfold disjoint', function(x) return x:unfold(2, 2, 2) end, function() return { R(2, 5) } end },
  { 'unfold with gaps', function(x) return x:unfold(1, 2, 3) end, function() return { R(6, 2) } end, gg = true },
  { 'unfold 1-d', function(x) return x:unfold(1, 4, 2) end, function() return { R(9) } end },
  { 'diagonal', function(x) return x:diagonal() end, function() return { R(3, 4) } end, gg = true },
  { 'diagonal above', function(x) return x:diagonal(1) end, function() return { R(3, 4) } end },
  { 'diagonal below', function(x) return x:diagonal(-1) end, function() return { R(3, 4) } end },
  { 'diagonal of dims 2, 3', function(x) return x:diagonal { dim1 = 2, dim2 = 3 } end,
    function() return { R(2, 3, 2) } end },
  { 'as_strided overlapping', function(x) return x:as_strided({ 3, 3 }, { 2, 1 }, 1) end,
    function() return { R(12) } end, gg = true },
  { 'as_strided picking', function(x) return x:as_strided({ 2, 2 }, { 4, 1 }, 1) end,
    function() return { R(3, 4) } end, gg = true },
  { 'split', function(x) return table.unpack(x:split(2)) end, function() return { R(5, 2) } end },
  { 'split sizes', function(x) return table.unpack(x:split({ 1, 3 }, 2)) end, function() return { R(2, 4) } end },
  { 'chunk', function(x) return table.unpack(x:chunk(3)) end, function() return { R(5, 2) } end },
  { 'chunk dim 2', function(x) return table.unpack(x:chunk(2, 2)) end, function() return { R(2, 5) } end },
  { 'tensor_split sections', function(x) return table.unpack(x:tensor_split(3)) end, function() return { R(5, 2) } end },
  { 'tensor_split points', function(x) return table.unpack(x:tensor_split({ 2, 4 }, 2)) end,
    function() return { R(2, 5) } end },
  { 'tensor_split overlapping', function(x) return table.unpack(x:tensor_split({ 4, 2 })) end,
    function() return { R(5, 2) } end },
  { 'hsplit', function(x) return table.unpack(x:hsplit(2)) end, function() return { R(3, 4) } end },
  { 'movedim', function(x) return x:movedim(1, 3) end, function() return { R(2, 3, 2) } end },
  { 'swapaxes', function(x) return x:swapaxes(1, 2) end, function() return { R(3, 4) } end },
  -- shape ops
  { 'cat', function(a, b) return torch.cat({ a, b }) end, function() return { R(2, 3), R(1, 3) } end, gg = true },
  { 'cat dim 2', function(a, b) return torch.cat({ a, b }, 2) end, function() return { R(2, 3), R(2, 1) } end },
  { 'cat skips 1-d empty', function(a, b) return torch.cat({ a, torch.zeros(0, { dtype = 'float64' }), b }) end,
    function() return { R(2), R(3) } end },
  { 'cat with a constant', function(a, b) return torch.cat({ a, b }, 1) end, function() return { R(2, 2), R(1, 2) } end,
    nograd = 1 },
  { 'stack', function(a, b) return torch.stack({ a, b }) end, function() return { R(2, 3), R(2, 3) } end, gg = true },
  { 'stack last dim', function(a, b) return torch.stack({ a, b }, 3) end, function() return { R(2, 3), R(2, 3) } end },
  { 'flip', function(x) return x:flip(1, 2) end, function() return { R(3, 4) } end, gg = true },
  { 'flip one dim', function(x) return x:flip(2) end, function() return { R(3, 4) } end },
  { 'roll', function(x) return x:roll(1, 2) end, function() return { R(3, 4) } end, gg = true },
  { 'roll two dims', function(x) return x:roll({ 1, -1 }, { 1, 2 }) end, function() return { R(3, 4) } end },
  { 'roll flattened', function(x) return x:roll(5) end, function() return { R(3, 4) } end },
  { 'tril', function(x) return x:tril() end, function() return { R(3, 4) } end, gg = true },
  { 'tril below', function(x) return x:tril(-1) end, function() return { R(3, 4) } end },
  { 'triu', function(x) return x:triu() end, function() return { R(3, 4) } end },
  { 'triu above, batched', function(x) return x:triu(1) end, function() return { R(2, 2, 3) } end },
  { 'tril_ in place', function(x) local y = x * 1; y:tril_(); return y end, function() return { R(3, 4) } end },
  { 'triu_ in place', function(x) local y = x * 1; y:triu_(1); return y end, function() return { R(3, 4) } end },
  { 'repeat', function(x) return x:repeat_(2, 2) end, function() return { R(2, 3) } end, gg = true },
  { 'repeat new dims', function(x) return x:repeat_(2, 1, 2) end, function() return { R(3) } end },
  { 'repeat ones', function(x) return x:repeat_(1, 3) end, function() return { R(3, 1) } end },
  -- linear algebra
  { 'mm', function(a, b) return a:mm(b) end, function() return { R(2, 3), R(3, 2) } end, gg = true },
  { 'mv', function(a, v) return a:mv(v) end, function() return { R(2, 3), R(3) } end, gg = true },
  { 'bmm', function(a, b) return a:bmm(b) end, function() return { R(2, 2, 3), R(2, 3, 2) } end, gg = true },
  { 'dot', function(a, b) return a:dot(b) end, function() return { R(4), R(4) } end, gg = true },
  { 'outer', function(a, b) return a:outer(b) end, function() return { R(3), R(2) } end, gg = true },
  { 'matmul 1-d @ 1-d', function(a, b) return a:matmul(b) end, function() return { R(3), R(3) } end, gg = true },
  { 'matmul 2-d @ 1-d', function(a, b) return a:matmul(b) end, function() return { R(2, 3), R(3) } end, gg = true },
  { 'matmul 1-d @ 2-d', function(a, b) return a:matmul(b) end, function() return { R(3), R(3, 2) } end, gg = true },
  { 'matmul 2-d @ 2-d', function(a, b) return a:matmul(b) end, function() return { R(2, 3), R(3, 2) } end, gg = true },
  { 'matmul 3-d @ 2-d', function(a, b) return a:matmul(b) end, function() return { R(2, 2, 3), R(3, 2) } end,
    gg = true },
  { 'matmul 2-d @ 3-d', function(a, b) return a:matmul(b) end, function() return { R(2, 3), R(2, 3, 2) } end },
  { 'matmul 1-d @ 3-d', function(a, b) return a:matmul(b) end, function() return { R(3), R(2, 3, 2) } end,
    gg = true },
  { 'matmul 3-d @ 1-d', function(a, b) return a:matmul(b) end, function() return { R(2, 2, 3), R(3) } end,
    gg = true },
  { 'matmul broadcast batch', function(a, b) return a:matmul(b) end, function() return { R(2, 1, 2, 3), R(3, 3, 2) } end,
    gg = true },
  { 'matmul size-1 batch', function(a, b) return a:matmul(b) end, function() return { R(1, 2, 3), R(2, 3, 2) } end },
  { 'addmm', function(c, a, b) return c:addmm(a, b) end, function() return { R(2, 2), R(2, 3), R(3, 2) } end,
    gg = true },
  { 'addmm beta alpha, broadcast input', function(c, a, b) return c:addmm(a, b, { beta = 0.5, alpha = -2 }) end,
    function() return { R(2), R(2, 3), R(3, 2) } end, gg = true },
  { 'addmm beta 0', function(c, a, b) return c:addmm(a, b, { beta = 0 }) end,
    function() return { R(2, 2), R(2, 3), R(3, 2) } end },
  { 'addmm_ in place', function(c, a, b) local y = c * 1; y:addmm_(a, b, { beta = 2, alpha = 3 }); return y end,
    function() return { R(2, 2), R(2, 3), R(3, 2) } end },
  { 'addmv', function(c, a, v) return c:addmv(a, v, { beta = 2, alpha = 0.5 }) end,
    function() return { R(2), R(2, 3), R(3) } end, gg = true },
  { 'addmv_ in place', function(c, a, v) local y = c * 1; y:addmv_(a, v); return y end,
    function() return { R(2), R(2, 3), R(3) } end },
  { 'baddbmm', function(c, a, b) return c:baddbmm(a, b, { beta = -1, alpha = 2 }) end,
    function() return { R(2, 2, 2), R(2, 2, 3), R(2, 3, 2) } end, gg = true },
  { 'baddbmm broadcast input', function(c, a, b) return c:baddbmm(a, b) end,
    function() return { R(1, 2), R(2, 2, 3), R(2, 3, 2) } end },
  { 'baddbmm_ in place', function(c, a, b) local y = c * 1; y:baddbmm_(a, b, { alpha = 2 }); return y end,
    function() return { R(2, 2, 2), R(2, 2, 3), R(2, 3, 2) } end },
  { 'einsum matrix product', function(a, b) return torch.einsum('ij,jk->ik', a, b) end,
    function() return { R(2, 3), R(3, 2) } end, gg = true },
  { 'einsum implicit output', function(a, b) return torch.einsum('ij,jk', a, b) end,
    function() return { R(2, 3), R(3, 2) } end },
  { 'einsum transpose', function(a) return torch.einsum('ij->ji', a) end, function() return { R(3, 4) } end },
  { 'einsum row sums', function(a) return torch.einsum('ij->i', a) end, function() return { R(3, 4) } end, gg = true },
  { 'einsum total', function(a) return torch.einsum('ij->', a) end, function() return { R(3, 4) } end },
  { 'einsum diagonal', function(a) return torch.einsum('ii->i', a) end, function() return { R(3, 3) } end, gg = true },
  { 'einsum trace', function(a) return torch.einsum('ii', a) end, function() return { R(3, 3) } end },
  { 'einsum repeated and shared', function(a, b) return torch.einsum('ii,i->i', a, b) end,
    function() return { R(3, 3), R(3) } end, gg = true },
  { 'einsum triple repeat', function(a) return torch.einsum('iii->i', a) end, function() return { R(2, 2, 2) } end },
  { 'einsum batched', function(a, b) return torch.einsum('bij,bjk->bik', a, b) end,
    function() return { R(2, 2, 3), R(2, 3, 2) } end, gg = true },
  { 'einsum dot', function(a, b) return torch.einsum('i,i->', a, b) end, function() return { R(4), R(4) } end },
  { 'einsum outer', function(a, b) return torch.einsum('i,j->ij', a, b) end, function() return { R(3), R(2) } end },
  { 'einsum three operands', function(a, b, c) return torch.einsum('ij,jk,kl->il', a, b, c) end,
    function() return { R(2, 3), R(3, 2), R(2, 2) } end, gg = true },
  { 'einsum summed in one operand', function(a, b) return torch.einsum('ij,k->ik', a, b) end,
    function() return { R(2, 3), R(2) } end },
  { 'einsum with a constant', function(a, b) return torch.einsum('ij,j->i', a, b) end,
    function() return { R(2, 3), R(3) } end, nograd = 1 },
  { 'einsum ellipsis batched product', function(a, b) return torch.einsum('...ij,...jk->...ik', a, b) end,
    function() return { R(2, 1, 2, 3), R(3, 3, 2) } end, gg = true },
  { 'einsum ellipsis summed', function(a) return torch.einsum('b...i->b...', a) end,
    function() return { R(2, 3, 4) } end },
  { 'einsum ellipsis implicit output', function(a, b) return torch.einsum('z...,a', a, b) end,
    function() return { R(3, 2), R(2) } end },
  { 'einsum ellipsis dims summed away', function(a, b) return torch.einsum('...i,...i->i', a, b) end,
    function() return { R(2, 3, 4), R(3, 4) } end },
  { 'einsum ellipsis with a repeated subscript', function(a) return torch.einsum('i...i->...i', a) end,
    function() return { R(3, 2, 3) } end },
  { 'einsum broadcast size-1 dims', function(a, b) return torch.einsum('ij,ij->ij', a, b) end,
    function() return { R(1, 3), R(2, 3) } end },
}

local function inputs_of(c, nc)
  local list = c[3]()
  if nc then list = noncontig(list) end
  local n = #list - (c.nograd or 0)
  for i = 1, n do list[i]:requires_grad_(true) end
  return list
end

describe('autograd of views, shape ops and linear algebra', function()
  describe('gradcheck', function()
    for _, c in ipairs(cases) do
      it(c[1], function()
        assert.is_true(ag.gradcheck(fresh(c[2]), inputs_of(c, false)))
      end)
      if not c.contig_only then
        it(c[1] .. ' (non-contiguous inputs)', function()
          assert.is_true(ag.gradcheck(fresh(c[2]), inputs_of(c, true)))
        end)
      end
    end
  end)

  describe('gradgradcheck', function()
    for _, c in ipairs(cases) do
      if c.gg then
        it(c[1], function()
          assert.is_true(ag.gradgradcheck(fresh(c[2]), inputs_of(c, false)))
        end)
      end
    end
  end)

  describe('gradients through view chains', function()
    local function ar(...)
      local n = select(1, ...) * select(2, ...)
      return torch.arange(1, n + 1, { dtype = 'float64' }):view(...):requires_grad_(true)
    end

    it('permute, narrow and select', function()
      local x = ar(3, 4)
      local y = x:permute(2, 1):narrow(1, 2, 2):select(2, 1) -- x[1][2..3]
      assert.are.equal('SelectBackward', tostring(y.grad_fn):match('%a+'))
      H.assert_close(y, { 2, 3 })
      local loss = (y * torch.tensor({ 10, 20 }, { dtype = 'float64' })):sum()
      loss:backward()
      H.assert_close(x.grad, { { 0, 10, 20, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } })
    end)

    it('transpose, view and expand', function()
      local x = ar(2, 3)
      local w = torch.arange(1, 7, { dtype = 'float64' })
      local y = x:t():contiguous():view(6) -- x in column order
      local loss = (y * w):sum()
      loss:backward()
      H.assert_close(x.grad, { { 1, 3, 5 }, { 2, 4, 6 } })
      local c = torch.tensor({ { 1 }, { 2 } }, { dtype = 'float64' }):requires_grad_(true)
      local e = c:expand(2, 3)
      local loss = (e * x:detach()):sum()
      loss:backward()
      H.assert_close(c.grad, { { 6 }, { 15 } })
    end)

    it('diagonal', function()
      local x = ar(3, 3)
      x:diagonal():sum():backward()
      H.assert_close(x.grad, { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 } })
      local z = ar(3, 4)
      local loss = (z:diagonal(1) * torch.tensor({ 1, 2, 3 }, { dtype = 'float64' })):sum()
      loss:backward()
      H.assert_close(z.grad, { { 0, 1, 0, 0 }, { 0, 0, 2, 0 }, { 0, 0, 0, 3 } })
    end)

    it('unfold sums the overlapping windows', function()
      local x = torch.zeros(5, { dtype = 'float64', requires_grad = true })
      x:unfold(1, 3, 1):sum():backward()
      H.assert_close(x.grad, { 1, 2, 3, 2, 1 })
      local y = torch.zeros(7, { dtype = 'float64', requires_grad = true })
      y:unfold(1, 2, 3):sum():backward() -- windows {1,2} {4,5}: 3, 6, 7 unused
      H.assert_close(y.grad, { 1, 1, 0, 1, 1, 0, 0 })
    end)

    it('as_strided scatter-adds overlapping elements', function()
      local x = torch.zeros(5, { dtype = 'float64', requires_grad = true })
      x:as_strided({ 3, 2 }, { 1, 1 }, 0):sum():backward()
      H.assert_close(x.grad, { 1, 2, 2, 1, 0 })
      -- an input whose elements overlap shares each position's gradient out
      local v = torch.zeros(3, { dtype = 'float64', requires_grad = true })
      v:expand(2, 3):as_strided({ 3 }, { 1 }, 0):sum():backward()
      H.assert_close(v.grad, { 1, 1, 1 })
    end)

    it('each piece of split and chunk is differentiable', function()
      local x = torch.zeros(5, 2, { dtype = 'float64', requires_grad = true })
      local p = x:split(2)
      assert.are.equal(3, #p)
      local loss = (p[1]:sum() + p[2]:sum() * 2 + p[3]:sum() * 3)
      loss:backward()
      H.assert_close(x.grad, { { 1, 1 }, { 1, 1 }, { 2, 2 }, { 2, 2 }, { 3, 3 } })
      local y = torch.zeros(2, 4, { dtype = 'float64', requires_grad = true })
      local q = y:chunk(2, 2)
      q[2]:sum():backward()
      H.assert_close(y.grad, { { 0, 0, 1, 1 }, { 0, 0, 1, 1 } })
    end)

    it('matmul sums the gradient over broadcast batch dims', function()
      local a = torch.ones(2, 1, 2, 3, { dtype = 'float64', requires_grad = true })
      local b = torch.ones(3, 3, 2, { dtype = 'float64', requires_grad = true })
      a:matmul(b):sum():backward()
      assert.are.same({ 2, 1, 2, 3 }, a.grad:size())
      assert.are.same({ 3, 3, 2 }, b.grad:size())
      H.assert_close(a.grad, torch.full({ 2, 1, 2, 3 }, 6, { dtype = 'float64' }))
      H.assert_close(b.grad, torch.full({ 3, 3, 2 }, 4, { dtype = 'float64' }))
    end)

    it('cat and stack route each slice to its input', function()
      local a = torch.zeros(2, { dtype = 'float64', requires_grad = true })
      local b = torch.zeros(3, { dtype = 'float64', requires_grad = true })
      local loss = (torch.cat({ a, b }) * torch.arange(1, 6, { dtype = 'float64' })):sum()
      loss:backward()
      H.assert_close(a.grad, { 1, 2 })
      H.assert_close(b.grad, { 3, 4, 5 })
      local c = torch.zeros(2, { dtype = 'float64', requires_grad = true })
      local s = torch.stack({ c, c * 2 }, 2) -- {{c1, 2 c1}, {c2, 2 c2}}
      s:sum():backward()
      H.assert_close(c.grad, { 3, 3 })
    end)

    it('repeat sums the copies', function()
      local x = torch.zeros(2, { dtype = 'float64', requires_grad = true })
      x:repeat_(3, 2):sum():backward()
      H.assert_close(x.grad, { 6, 6 })
    end)
  end)

  describe('in-place writes through views', function()
    it('rebase the base: mul_ on a narrow view', function()
      local x = torch.ones(5, { dtype = 'float64', requires_grad = true })
      local y = x * 1
      y:narrow(1, 2, 2):mul_(3)
      y:sum():backward()
      H.assert_close(x.grad, { 1, 3, 3, 1, 1 })
    end)

    it('through a transpose and a select', function()
      local x = torch.ones(2, 3, { dtype = 'float64', requires_grad = true })
      local y = x * 2
      y:t():select(1, 2):mul_(5) -- column 2 of y
      y:sum():backward()
      H.assert_close(x.grad, { { 2, 10, 2 }, { 2, 10, 2 } })
    end)

    it('tril_ on a non-leaf records', function()
      local x = torch.ones(3, 3, { dtype = 'float64', requires_grad = true })
      local y = x * 1
      y:tril_()
      y:sum():backward()
      H.assert_close(x.grad, { { 1, 0, 0 }, { 1, 1, 0 }, { 1, 1, 1 } })
    end)

    it('addmm_ on a non-leaf matches addmm', function()
      local c = R(2, 2):requires_grad_(true)
      local a, b = R(2, 3):requires_grad_(true), R(3, 2):requires_grad_(true)
      local y = c * 1
      y:addmm_(a, b, { beta = 2, alpha = 3 })
      y:sum():backward()
      local gc, ga, gb = c.grad:clone(), a.grad:clone(), b.grad:clone()
      c.grad, a.grad, b.grad = nil, nil, nil
      c:addmm(a, b, { beta = 2, alpha = 3 }):sum():backward()
      H.assert_close(gc, c.grad)
      H.assert_close(ga, a.grad)
      H.assert_close(gb, b.grad)
    end)

    it('a view of a leaf that requires grad cannot be modified in place', function()
      local x = torch.ones(5, { dtype = 'float64', requires_grad = true })
      H.assert_error(function() x:narrow(1, 2, 2):mul_(3) end, 'view of a leaf')
      H.assert_error(function() x:view(5):fill_(0) end, 'view of a leaf')
      H.assert_error(function() x:unsqueeze(1):tril_() end, 'view of a leaf')
      local m = torch.ones(2, 2, { dtype = 'float64', requires_grad = true })
      H.assert_error(function() m:t():addmm_(m, m) end, 'view of a leaf')
      H.assert_error(function() m:tril_() end, 'leaf tensor that requires grad')
      torch.no_grad(function() x:narrow(1, 2, 2):mul_(3) end) -- allowed without recording
      H.assert_close(x:detach(), { 1, 3, 3, 1, 1 })
    end)

    it('views share the base, so they see in-place writes', function()
      local x = torch.zeros(2, 3, { dtype = 'float64', requires_grad = true })
      local y = x * 1
      local v = y:permute(2, 1)
      y:add_(1)
      H.assert_close(v, torch.ones(3, 2, { dtype = 'float64' }))
    end)
  end)

  describe('graph nodes', function()
    local function name(t) return tostring(t.grad_fn):match('%a+') end
    local x = torch.ones(3, 4, { dtype = 'float64', requires_grad = true })
    local cases_ = {
      { 'PermuteBackward', function() return x:permute(2, 1) end },
      { 'TransposeBackward', function() return x:transpose(1, 2) end },
      { 'TBackward', function() return x:t() end },
      { 'SliceBackward', function() return x:narrow(1, 1, 2) end },
      { 'SelectBackward', function() return x:select(1, 1) end },
      { 'SqueezeBackward', function() return x:unsqueeze(1):squeeze(1) end },
      { 'UnsqueezeBackward', function() return x:unsqueeze(1) end },
      { 'UnfoldBackward', function() return x:unfold(2, 2, 1) end },
      { 'DiagonalBackward', function() return x:diagonal() end },
      { 'AsStridedBackward', function() return x:as_strided({ 2 }, { 1 }, 0) end },
      { 'CatBackward', function() return torch.cat({ x, x }) end },
      { 'StackBackward', function() return torch.stack({ x, x }) end },
      { 'FlipBackward', function() return x:flip(1) end },
      { 'RollBackward', function() return x:roll(1, 1) end },
      { 'TrilBackward', function() return x:tril() end },
      { 'TriuBackward', function() return x:triu() end },
      { 'RepeatBackward', function() return x:repeat_(1, 2) end },
      { 'MmBackward', function() return x:mm(x:t()) end },
      { 'MvBackward', function() return x:mv(x[1]) end },
      { 'BmmBackward', function() return x:unsqueeze(1):bmm(x:t():unsqueeze(1)) end },
      { 'DotBackward', function() return x:select(1, 1):dot(x:select(1, 2)) end },
      { 'MatmulBackward', function() return x:unsqueeze(1):matmul(x:t()) end },
      { 'AddmmBackward', function() return x:narrow(2, 1, 3):addmm(x, x:t()) end },
      { 'EinsumBackward', function() return torch.einsum('ij->j', x) end },
    }
    for _, c in ipairs(cases_) do
      it(c[1], function()
        assert.are.equal(c[1], name(c[2]()))
      end)
    end
  end)

  describe('errors and the fast path', function()
    it('out= with an input that requires grad is refused', function()
      local a = R(2, 3):requires_grad_(true)
      local b = R(3, 2)
      local o = torch.empty(2, 2, { dtype = 'float64' })
      H.assert_error(function() torch.mm(a, b, { out = o }) end, 'mm: out= cannot be used when an input requires grad')
      H.assert_error(function() torch.matmul(b:t(), a:t(), { out = o }) end, 'matmul: out=')
      H.assert_error(function() o:addmm(a, b, { out = o }) end, 'addmm: out=')
      -- without grad it works
      torch.mm(a:detach(), b, { out = o })
      H.assert_close(o, a:detach():mm(b))
    end)

    it('without grad no graph is recorded', function()
      local x = R(3, 4)
      for _, y in ipairs { x:t(), x:narrow(1, 1, 2), x:unfold(2, 2, 1), torch.cat({ x, x }), x:mm(x:t()),
        torch.einsum('ij->j', x), x:flip(1), x:repeat_(2, 1), x:as_strided({ 2 }, { 1 }, 0) } do
        assert.is_nil(y.grad_fn)
        assert.is_false(y.requires_grad)
      end
      local w = R(3, 4):requires_grad_(true)
      torch.no_grad(function()
        local y = w:t():mm(w)
        assert.is_nil(y.grad_fn)
        assert.is_false(y.requires_grad)
      end)
    end)

    it('one_hot is not differentiable and integer views record nothing', function()
      local l = torch.tensor({ 1, 3, 2 })
      local o = torch.one_hot(l, 3)
      assert.is_nil(o.grad_fn)
      assert.are.equal('int64', o.dtype)
      assert.is_nil(l:t().grad_fn)
    end)

    it('repeat refuses sizes that overflow', function()
      H.assert_error(function() torch.zeros(3):repeat_(2 ^ 62) end, 'repeat: the result would have too many elements')
    end)

    it('in-place addmm_ cannot broadcast self', function()
      local c = R(2):requires_grad_(true)
      local a, b = R(2, 3):requires_grad_(true), R(3, 2)
      H.assert_error(function() (c * 1):addmm_(a, b) end, 'addmm_')
    end)

    it('einsum names the form it cannot differentiate', function()
      local letters = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'o', 'p' }
      local ops = { R(2, 2):requires_grad_(true) }
      for i = 1, #letters do ops[i + 1] = R(1) end
      local y = torch.einsum('ii,' .. table.concat(letters, ',') .. '->', ops)
      H.assert_error(function() y:backward() end, "einsum backward: the gradient of operand 1 (repeated subscript 'i')")
    end)

    it('double backward works through a chain of views and products', function()
      local x = R(3, 3):requires_grad_(true)
      local y = x:t():matmul(x):diagonal():sum() -- sum of squares of all elements
      local g = ag.grad({ y }, { x }, { create_graph = true })[1]
      H.assert_close(g, x:detach() * 2)
      local gg = ag.grad({ g:sum() }, { x })[1]
      H.assert_close(gg, torch.full({ 3, 3 }, 2, { dtype = 'float64' }))
    end)
  end)
end)
