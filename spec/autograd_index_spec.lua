-- Autograd of the indexing family: index_select, gather, take, masked_select,
-- the writing ops (scatter, scatter_add, index_add/copy/fill, masked_fill,
-- masked_scatter) out of place and in place, and Lua indexing x[...] (reads keep
-- the graph, assignments record or refuse to write into a leaf).
local torch = require 'torch'
local H = require 'spec.support.helpers'

local gradcheck, gradgradcheck = torch.autograd.gradcheck, torch.autograd.gradgradcheck
local gen = torch.Generator():manual_seed(11)

local function rnd(...)
  return torch.randn({ ... }, { dtype = 'float64', generator = gen })
end
local function leaf(t) return t:requires_grad_(true) end
local function L(t) return torch.tensor(t) end -- an int64 index tensor

-- inputs shared by the cases (tiny: gradcheck runs one backward per output element)
local X = rnd(3, 4)                     -- the indexed tensor
local M = X:gt(0.1)                     -- a mask over X with set and unset positions
M[{ 1, 1 }] = true
M[{ 1, 2 }] = false
local NSET = M:sum():item()
local V0 = torch.tensor(1.5, { dtype = 'float64' }) -- a 0-d fill value

-- Each case: fn(...) and a builder of its arguments; tensors in `diff` positions
-- require grad and are made non-contiguous for the non-contiguous run. `gg` adds
-- a gradgradcheck. `name` is the grad_fn expected.
local cases = {
  { op = 'index_select dim 1, repeated', name = 'IndexSelectBackward', diff = { 1 }, gg = true,
    fn = function(x) return x:index_select(1, L { 1, 3, 1 }) end, args = function() return { X } end },
  { op = 'index_select dim 2, repeated', name = 'IndexSelectBackward', diff = { 1 },
    fn = function(x) return x:index_select(2, L { 4, 2, 4 }) end, args = function() return { X } end },
  { op = 'index_select 0-d index', name = 'IndexSelectBackward', diff = { 1 },
    fn = function(x) return x:index_select(2, L(-1)) end, args = function() return { X } end },
  { op = 'gather dim 1, repeated', name = 'GatherBackward', diff = { 1 }, gg = true,
    fn = function(x) return x:gather(1, L { { 1, 2, 2, 1 }, { 3, 3, 3, 3 } }) end, args = function() return { X } end },
  { op = 'gather dim 2, repeated', name = 'GatherBackward', diff = { 1 },
    fn = function(x) return x:gather(2, L { { 4, 4 }, { 1, 2 }, { 2, 2 } }) end, args = function() return { X } end },
  { op = 'take, repeated', name = 'TakeBackward', diff = { 1 }, gg = true,
    fn = function(x) return x:take(L { { 1, 12 }, { 5, 5 } }) end, args = function() return { X } end },
  { op = 'masked_select', name = 'MaskedSelectBackward', diff = { 1 }, gg = true,
    fn = function(x) return x:masked_select(M) end, args = function() return { X } end },
  { op = 'masked_select, mask broadcast', name = 'MaskedSelectBackward', diff = { 1 },
    fn = function(x) return x:masked_select(L { true, false, true, true }:bool()) end,
    args = function() return { X } end },
  { op = 'masked_select, input broadcast', name = 'MaskedSelectBackward', diff = { 1 },
    fn = function(x) return x:masked_select(M) end, args = function() return { rnd(4) } end },
  { op = 'index_add alpha=2, repeated', name = 'IndexAddBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, s) return (x * 2):index_add(1, L { 3, 3 }, s, { alpha = 2 }) end,
    args = function() return { X, rnd(2, 4) } end },
  { op = 'index_add dim 2', name = 'IndexAddBackward', diff = { 1, 2 },
    fn = function(x, s) return x:index_add(2, L { 2, 4, 2 }, s) end, args = function() return { X, rnd(3, 3) } end },
  { op = 'index_copy', name = 'IndexCopyBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, s) return x:index_copy(1, L { 3, 1 }, s) end, args = function() return { X, rnd(2, 4) } end },
  { op = 'index_fill number', name = 'IndexFillBackward', diff = { 1 },
    fn = function(x) return x:index_fill(2, L { 2, 2, 4 }, -1) end, args = function() return { X } end },
  { op = 'index_fill 0-d tensor value', name = 'IndexFillBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, v) return x:index_fill(2, L { 2, 2, 4 }, v) end, args = function() return { X, V0 } end },
  { op = 'scatter src', name = 'ScatterBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, s) return x:scatter(1, L { { 1, 2, 3, 1 }, { 3, 1, 2, 2 } }, s) end,
    args = function() return { X, rnd(2, 4) } end },
  { op = 'scatter src larger than index', name = 'ScatterBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, s) return x:scatter(2, L { { 2, 1 }, { 4, 3 } }, s) end,
    args = function() return { X, rnd(3, 3) } end },
  { op = 'scatter value', name = 'ScatterBackward', diff = { 1 },
    fn = function(x) return x:scatter(1, L { { 1, 2, 3, 1 } }, 2.5) end, args = function() return { X } end },
  { op = 'scatter value reduce=add', name = 'ScatterBackward', diff = { 1 },
    fn = function(x) return x:scatter(1, L { { 1, 1, 3, 1 } }, 2.5, { reduce = 'add' }) end,
    args = function() return { X } end },
  { op = 'scatter value reduce=multiply, repeated', name = 'ScatterBackward', diff = { 1 },
    fn = function(x) return x:scatter(1, L { { 1, 2, 3, 1 }, { 1, 2, 1, 1 } }, 2.5, { reduce = 'multiply' }) end,
    args = function() return { X } end },
  { op = 'scatter src reduce=add', name = 'ScatterAddBackward', diff = { 1, 2 },
    fn = function(x, s) return x:scatter(1, L { { 1, 1, 3, 1 } }, s, { reduce = 'add' }) end,
    args = function() return { X, rnd(1, 4) } end },
  { op = 'scatter_add, repeated, src larger', name = 'ScatterAddBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, s) return (x * 2):scatter_add(1, L { { 1, 2, 3, 1 }, { 1, 2, 1, 1 } }, s) end,
    args = function() return { X, rnd(3, 5) } end },
  { op = 'masked_fill number', name = 'MaskedFillBackward', diff = { 1 },
    fn = function(x) return x:masked_fill(M, -2) end, args = function() return { X } end },
  { op = 'masked_fill 0-d tensor, mask broadcast', name = 'MaskedFillBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, v) return x:masked_fill(L { false, true, true, false }:bool(), v) end,
    args = function() return { X, V0 } end },
  { op = 'masked_scatter, src larger than the count', name = 'MaskedScatterBackward', diff = { 1, 2 }, gg = true,
    fn = function(x, s) return x:masked_scatter(M, s) end, args = function() return { X, rnd(NSET + 1) } end },
  { op = 'masked_scatter, 2-d src', name = 'MaskedScatterBackward', diff = { 1, 2 },
    fn = function(x, s) return x:masked_scatter(M, s) end, args = function() return { X, rnd(3, 4) } end },
}

local function build(c, noncontig, args)
  local a = {}
  for i, t in ipairs(args or c.args()) do a[i] = t end
  for _, i in ipairs(c.diff) do
    local t = a[i]:clone()
    if noncontig and t:dim() > 0 then t = H.noncontig(t) end
    a[i] = leaf(t)
  end
  return a
end

describe('index autograd: gradcheck', function()
  for _, c in ipairs(cases) do
    it(c.op, function()
      local a = build(c, false)
      assert(gradcheck(c.fn, a))
      local nc = build(c, true)
      assert(gradcheck(c.fn, nc))
      if c.gg then assert(gradgradcheck(c.fn, a)) end
      local out = c.fn(table.unpack(a))
      assert.equal(c.name, out.grad_fn:name())
    end)
  end
end)

describe('index autograd: specific gradients', function()
  it('accumulates over repeated indices', function()
    local x = leaf(torch.zeros(4, { dtype = 'float64' }))
    x:index_select(1, L { 2, 2, 4, 2 }):sum():backward()
    H.assert_close(x.grad, { 0, 3, 0, 1 })
    x.grad = nil
    x:take(L { { 4, 4 }, { 1, 4 } }):sum():backward()
    H.assert_close(x.grad, { 1, 0, 0, 3 })
    x.grad = nil
    x:view(2, 2):gather(2, L { { 1, 1, 1 }, { 2, 1, 2 } }):sum():backward()
    H.assert_close(x.grad, { 3, 0, 1, 2 })
  end)
  it('masks the gradient of the overwritten positions', function()
    local x = leaf(torch.ones(2, 3, { dtype = 'float64' }))
    local s = leaf(torch.ones(1, 3, { dtype = 'float64' }))
    x:scatter(1, L { { 2, 1, 2 } }, s):sum():backward()
    H.assert_close(x.grad, { { 1, 0, 1 }, { 0, 1, 0 } })
    H.assert_close(s.grad, { { 1, 1, 1 } })
    x.grad = nil
    x:masked_fill(L { true, false, true }:bool(), 0):sum():backward()
    H.assert_close(x.grad, { { 0, 1, 0 }, { 0, 1, 0 } })
  end)
  it('gives the source of masked_scatter the gradient of the elements used, zero beyond', function()
    local x = leaf(torch.zeros(2, 2, { dtype = 'float64' }))
    local s = leaf(torch.zeros(5, { dtype = 'float64' }))
    local w = torch.tensor({ { 1, 2 }, { 3, 4 } }, { dtype = 'float64' })
    local y = x:masked_scatter(L { { true, false }, { true, true } }:bool(), s)
    ;(y * w):sum():backward()
    H.assert_close(s.grad, { 1, 3, 4, 0, 0 })
    H.assert_close(x.grad, { { 0, 2 }, { 0, 0 } })
  end)
  it('gives a fill value the gradient summed over the filled positions (repeats count once)', function()
    local x = leaf(torch.zeros(2, 3, { dtype = 'float64' }))
    local v = leaf(torch.tensor(0.0, { dtype = 'float64' }))
    local w = torch.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, { dtype = 'float64' })
    ;(x:index_fill(2, L { 3, 1, 3 }, v) * w):sum():backward()
    H.assert_close(v.grad, 1 + 3 + 4 + 6)
  end)
  it('nonzero is not differentiable', function()
    local x = leaf(rnd(2, 3))
    local nz = x:nonzero()
    assert.equal('int64', nz.dtype)
    assert.is_nil(nz.grad_fn)
    assert.is_false(nz.requires_grad)
  end)
  it('works without grad (fast path): same values, no graph', function()
    for _, c in ipairs(cases) do
      local a = c.args()
      local plain = c.fn(table.unpack(a))
      assert.is_nil(plain.grad_fn)
      local g = build(c, false, a)
      H.assert_close(c.fn(table.unpack(g)):detach(), plain)
      local ng = torch.no_grad(function() return c.fn(table.unpack(g)) end)
      assert.is_nil(ng.grad_fn)
    end
  end)
  it('does not record for integer tensors', function()
    local x = L { 1, 2, 3 }
    assert.is_nil(x:index_select(1, L { 1 }).grad_fn)
    assert.is_nil(x:index_fill(1, L { 1 }, 5).grad_fn)
  end)
  it('raises clear errors', function()
    local x = leaf(rnd(2, 3))
    H.assert_error(function() x:scatter(1, L { { 1, 2, 1 } }, rnd(1, 3), { reduce = 'multiply' }) end,
      "scatter_: reduce='multiply' with a source tensor is not differentiable")
    H.assert_error(function() x:masked_fill(x:gt(0), rnd(2)) end, 'expected a number or a 0-d tensor')
    -- an index modified after use makes backward fail instead of giving a wrong gradient
    local idx = L { 1, 2 }
    local y = x:index_select(1, idx)
    idx:fill_(1)
    H.assert_error(function() y:sum():backward() end, 'modified by an in-place operation')
  end)
end)

-- in-place forms: on a non-leaf (x*1) they must give the out-of-place gradients
local inplace = {
  { op = 'index_add_', f = function(y, s) return y:index_add_(1, L { 3, 3 }, s, { alpha = -1 }) end,
    g = function(y, s) return y:index_add(1, L { 3, 3 }, s, { alpha = -1 }) end, src = { 2, 4 } },
  { op = 'index_copy_', f = function(y, s) return y:index_copy_(2, L { 4, 1 }, s) end,
    g = function(y, s) return y:index_copy(2, L { 4, 1 }, s) end, src = { 3, 2 } },
  { op = 'index_fill_', f = function(y, v) return y:index_fill_(1, L { 2 }, v) end,
    g = function(y, v) return y:index_fill(1, L { 2 }, v) end, src = {} },
  { op = 'scatter_', f = function(y, s) return y:scatter_(1, L { { 1, 3, 2, 1 } }, s) end,
    g = function(y, s) return y:scatter(1, L { { 1, 3, 2, 1 } }, s) end, src = { 2, 4 } },
  { op = 'scatter_ value', f = function(y) return y:scatter_(2, L { { 1 }, { 4 }, { 4 } }, 7) end,
    g = function(y) return y:scatter(2, L { { 1 }, { 4 }, { 4 } }, 7) end },
  { op = 'scatter_add_', f = function(y, s) return y:scatter_add_(1, L { { 1, 1, 2, 3 } }, s) end,
    g = function(y, s) return y:scatter_add(1, L { { 1, 1, 2, 3 } }, s) end, src = { 1, 4 } },
  { op = 'masked_fill_', f = function(y, v) return y:masked_fill_(M, v) end,
    g = function(y, v) return y:masked_fill(M, v) end, src = {} },
  { op = 'masked_scatter_', f = function(y, s) return y:masked_scatter_(M, s) end,
    g = function(y, s) return y:masked_scatter(M, s) end, src = { 12 } },
}

describe('index autograd: in place', function()
  for _, c in ipairs(inplace) do
    it(c.op .. ' on a non-leaf matches the out-of-place gradient', function()
      local w = rnd(3, 4)
      local function grads(f)
        local x = leaf(X:clone())
        local s = c.src and leaf(#c.src > 0 and rnd(table.unpack(c.src)):mul(0):add(0.5) or V0:clone()) or nil
        local y = x * 1
        local r = f(y, s)
        ;(r * w):sum():backward()
        return x.grad, s and s.grad, r, y
      end
      local gx1, gs1, r1, y1 = grads(c.f)
      local gx2, gs2, r2 = grads(c.g)
      assert.equal(rawequal(r1, y1), true) -- returns self
      H.assert_close(r1:detach(), r2:detach())
      H.assert_close(gx1, gx2)
      if gs2 then H.assert_close(gs1, gs2) end
      assert.equal(r2.grad_fn:name(), r1.grad_fn:name())
    end)
  end
  it('records a write into a plain tensor from a source that requires grad', function()
    local s = leaf(rnd(2, 4))
    local y = torch.zeros(3, 4, { dtype = 'float64' })
    y:index_copy_(1, L { 3, 1 }, s)
    assert.equal('IndexCopyBackward', y.grad_fn:name())
    y:sum():backward()
    H.assert_close(s.grad, torch.ones(2, 4, { dtype = 'float64' }))
  end)
  it('rebases the base when writing through a view (CopySlices)', function()
    local x = leaf(X:clone())
    local y = x * 1
    y[2]:index_fill_(1, L { 1, 3 }, 0)
    assert.equal('CopySlices', y.grad_fn:name())
    y:sum():backward()
    H.assert_close(x.grad, { { 1, 1, 1, 1 }, { 0, 1, 0, 1 }, { 1, 1, 1, 1 } })
  end)
  it('refuses to write into a leaf that requires grad (allowed under no_grad)', function()
    for _, c in ipairs(inplace) do
      local x = leaf(X:clone())
      local s = c.src and (#c.src > 0 and rnd(table.unpack(c.src)) or V0:clone()) or nil
      H.assert_error(function() c.f(x, s) end, 'a leaf tensor that requires grad cannot be modified in place')
      torch.no_grad(function() c.f(x, s) end)
      H.assert_close(x:detach(), c.g(X, s))
    end
  end)
  it('an earlier result saved by another node is detected', function()
    local x = leaf(rnd(3))
    local y = x:exp()
    y:index_fill_(1, L { 1 }, 0)
    H.assert_error(function() y:sum():backward() end, 'modified by an in-place operation')
  end)
end)

describe('index autograd: Lua indexing reads', function()
  local function nc(t) return leaf(H.noncontig(t:clone())) end
  local reads = {
    { key = 'x[2]', f = function(x) return x[2] end, name = 'SelectBackward', gg = true },
    { key = 'x[-1]', f = function(x) return x[-1] end, name = 'SelectBackward' },
    { key = 'x[{2,3}]', f = function(x) return x[{ 2, 3 }] end, name = 'SelectBackward', gg = true },
    { key = 'x[{{1,2},{}}]', f = function(x) return x[{ { 1, 2 }, {} }] end, name = 'SliceBackward', gg = true },
    { key = 'x[{{},{2,4,2}}]', f = function(x) return x[{ {}, { 2, 4, 2 } }] end, name = 'SliceBackward' },
    { key = 'x[{{2,3},-1}]', f = function(x) return x[{ { 2, 3 }, -1 }] end, name = 'SliceBackward' },
    { key = 'x[{}]', f = function(x) return x[{}] end, name = 'ViewBackward' },
    { key = 'x[mask]', f = function(x) return x[M] end, name = 'MaskedSelectBackward', gg = true },
    { key = 'x[row mask]', f = function(x) return x[L { true, false, true }:bool()] end, name = 'ViewBackward' },
    { key = 'x[longidx]', f = function(x) return x[L { 3, 1, 3 }] end, name = 'IndexSelectBackward', gg = true },
    { key = 'x[2-d longidx]', f = function(x) return x[L { { 3, 1 }, { 3, 3 } }] end, name = 'ViewBackward' },
    { key = 'x[{idx1, idx2}]', f = function(x) return x[{ L { 3, 1, 3 }, L { 4, -1, 2 } }] end,
      name = 'IndexSelectBackward', gg = true },
    { key = 'x[{idx1, idx2}] broadcast', f = function(x) return x[{ L { { 1 }, { 3 } }, L { 2, 4, 2 } }] end,
      name = 'ViewBackward' },
    { key = 'x[{{2,3}, idx}]', f = function(x) return x[{ { 2, 3 }, L { 4, 4, 1 } }] end, name = 'ViewBackward' },
    { key = 'x[{idx, 2}]', f = function(x) return x[{ L { 3, 1, 3 }, 2 }] end, name = 'ViewBackward' },
    { key = 'x[{mask2d}]', f = function(x) return x[{ M }] end, name = 'IndexSelectBackward', gg = true },
  }
  for _, c in ipairs(reads) do
    it(c.key .. ' keeps the graph (gradcheck, contiguous and not)', function()
      local x = leaf(X:clone())
      -- gradcheck compares outputs after restoring the input: a view must be copied
      local function f(a) return c.f(a):clone() end
      assert(gradcheck(f, { x }))
      assert(gradcheck(f, { nc(X) }))
      if c.gg then assert(gradgradcheck(f, { x })) end
      assert.equal(c.name, c.f(x).grad_fn:name())
    end)
  end
  it('x[{idx, {}, idx}] on a 3-d tensor (index dims apart go first) keeps the graph', function()
    local function f(x) return x[{ L { 2, 1, 2 }, {}, L { { 4 }, { 1 } } }] end
    assert(gradcheck(f, { leaf(rnd(2, 3, 4)) }))
    assert(gradcheck(f, { leaf(H.noncontig(rnd(2, 3, 4))) }))
    assert(gradgradcheck(f, { leaf(rnd(2, 3, 4)) }))
    assert.same({ 2, 3, 3 }, { f(rnd(2, 3, 4)):size(1), f(rnd(2, 3, 4)):size(2), f(rnd(2, 3, 4)):size(3) })
  end)
  it('x[i] of a 1-d tensor that requires grad is a 0-d tensor keeping the graph', function()
    local p = leaf(torch.tensor({ 2.0, -1.0 }, { dtype = 'float64' }))
    local e = p[1]
    assert.is_true(torch.isTensor(e))
    assert.equal(0, e:dim())
    assert.equal('SelectBackward', e.grad_fn:name())
    local t = torch.tensor({ 1.0, 2.0, 3.0 }, { dtype = 'float64' })
    local y = p[1] * t + p[2]
    y:sum():backward()
    H.assert_close(p.grad, { 6, 3 })
    assert(gradcheck(function(q) return q[2]:clone() end, { leaf(rnd(3)) }))
  end)
  it('x[i] of a plain 1-d tensor is still a number', function()
    local t = torch.tensor { 4.5, 5.5 }
    assert.equal(5.5, t[2])
    assert.equal('number', type(rnd(2, 2)[{ 1, 2 }]))
  end)
  it('a view read then written in place rebases its base', function()
    local x = leaf(X:clone())
    local y = x * 1
    local r = y[{ { 1, 2 } }]
    r:mul_(3)
    assert.equal('CopySlices', y.grad_fn:name())
    y:sum():backward()
    H.assert_close(x.grad, { { 3, 3, 3, 3 }, { 3, 3, 3, 3 }, { 1, 1, 1, 1 } })
  end)
end)

describe('index autograd: Lua assignment', function()
  it('writing a value that requires grad into a plain tensor records (CopySlices)', function()
    local y = leaf(torch.tensor(2.0))
    local out = torch.zeros(3)
    out[2] = y
    assert.equal('CopySlices', out.grad_fn:name())
    H.assert_close(out, { 0, 2, 0 })
    out:sum():backward()
    H.assert_close(y.grad, 1)
  end)
  it('records through tables and ranges, with broadcasting', function()
    local v = leaf(rnd(2))
    local out = torch.zeros(3, 2, { dtype = 'float64' })
    out[{ { 2, 3 }, {} }] = v
    local w = torch.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, { dtype = 'float64' })
    ;(out * w):sum():backward()
    H.assert_close(v.grad, { 8, 10 })
    local s = leaf(torch.tensor(1.0, { dtype = 'float64' }))
    local o2 = torch.zeros(2, 2, { dtype = 'float64' })
    o2[{ 1, 2 }] = s
    ;(o2 * 5):sum():backward()
    H.assert_close(s.grad, 5)
  end)
  it('records mask assignment of a tensor and of a 0-d value', function()
    local mask = L { { true, false }, { true, true } }:bool()
    local v = leaf(rnd(3))
    local out = torch.zeros(2, 2, { dtype = 'float64' })
    out[mask] = v
    assert.equal('MaskedScatterBackward', out.grad_fn:name())
    local w = torch.tensor({ { 1, 2 }, { 3, 4 } }, { dtype = 'float64' })
    ;(out * w):sum():backward()
    H.assert_close(v.grad, { 1, 3, 4 })
    local s = leaf(torch.tensor(0.5, { dtype = 'float64' }))
    local o2 = torch.zeros(2, 2, { dtype = 'float64' })
    o2[mask] = s
    assert.equal('MaskedFillBackward', o2.grad_fn:name())
    H.assert_close(o2, { { 0.5, 0 }, { 0.5, 0.5 } })
    ;(o2 * w):sum():backward()
    H.assert_close(s.grad, 8)
  end)
  it('records LongTensor assignment of rows and of a 0-d value', function()
    local rows = leaf(rnd(2, 3))
    local out = torch.zeros(3, 3, { dtype = 'float64' })
    out[L { 3, 1 }] = rows
    assert.equal('IndexCopyBackward', out.grad_fn:name())
    H.assert_close(out[1]:detach(), rows[2]:detach())
    out:sum():backward()
    H.assert_close(rows.grad, torch.ones(2, 3, { dtype = 'float64' }))
    local s = leaf(torch.tensor(0.5, { dtype = 'float64' }))
    local o2 = torch.zeros(3, 2, { dtype = 'float64' })
    o2[L { 1, 3, 3 }] = s
    assert.equal('IndexFillBackward', o2.grad_fn:name())
    o2:sum():backward()
    H.assert_close(s.grad, 4)
  end)
  it('assignment into a non-leaf masks its old gradient', function()
    local x = leaf(X:clone())
    local y = x * 1
    y[2] = 0
    y[{ 1, 1 }] = 0
    y[M] = y[M] * 2
    y:sum():backward()
    local expect = torch.ones(3, 4, { dtype = 'float64' }):masked_fill(M, 2)
    expect[2] = 0
    expect[{ 1, 1 }] = 0
    H.assert_close(x.grad, expect)
  end)
  it('gradcheck of a function that assigns into a fresh tensor', function()
    local function f(a, b)
      local out = torch.zeros(3, 4, { dtype = 'float64' })
      out[2] = a
      out[{ { 1, 1 }, { 2, 3 } }] = b
      out[L { 3 }] = a * 2
      return out
    end
    assert(gradcheck(f, { leaf(rnd(4)), leaf(rnd(1, 2)) }))
    assert(gradcheck(f, { leaf(H.noncontig(rnd(4))), leaf(H.noncontig(rnd(1, 2))) }))
  end)
  it('gradcheck of assignments with several index tensors (values and a 0-d fill)', function()
    local function g(x, v, s)
      local out = x * 1
      out[{ L { 1, 3, 3 }, L { 2, 4, 4 } }] = v -- repeated position: the last value wins
      local o3 = out:view(3, 2, 2)
      o3[{ {}, L { { 1 }, { 2 } }, L { 1 } }] = s -- columns 1 and 3 of out
      return out
    end
    assert(gradcheck(g, { leaf(X:clone()), leaf(rnd(3)), leaf(V0:clone()) }))
    assert(gradcheck(g, { leaf(H.noncontig(X:clone())), leaf(H.noncontig(rnd(3))), leaf(V0:clone()) }))
    local out = g(leaf(X:clone()), leaf(rnd(3)), V0)
    assert.equal('CopySlices', out.grad_fn:name())
    local v = leaf(rnd(3))
    local o = g(X:clone(), v, V0)
    o:sum():backward()
    H.assert_close(v.grad, { 1, 0, 1 })
  end)
  it('gradcheck of a separated-index assignment into a fresh tensor', function()
    local function f(a)
      local out = torch.zeros(2, 3, 4, { dtype = 'float64' })
      out[{ L { 2, 1 }, {}, L { 4, 1 } }] = a -- a: (2, 3)
      return out
    end
    assert(gradcheck(f, { leaf(rnd(2, 3)) }))
    assert(gradcheck(f, { leaf(H.noncontig(rnd(2, 3))) }))
  end)
  it('assignment into a leaf that requires grad errors (and works under no_grad)', function()
    local x = leaf(rnd(3, 2))
    local msg = 'cannot be modified in place'
    H.assert_error(function() x[1] = 0 end, msg)
    H.assert_error(function() x[{ 1, 2 }] = torch.tensor(1.0) end, msg)
    H.assert_error(function() x[{ { 1, 2 } }] = 5 end, msg)
    H.assert_error(function() x[x:gt(0)] = 0 end, msg)
    local m = x:gt(0)
    H.assert_error(function() x[m] = torch.zeros(m:sum():item(), { dtype = 'float64' }) end, msg)
    H.assert_error(function() x[L { 1 }] = 0 end, msg)
    H.assert_error(function() x[L { 1 }] = torch.zeros(2, { dtype = 'float64' }) end, msg)
    torch.no_grad(function()
      x[1] = 0
      x[L { 2 }] = 1
    end)
    H.assert_close(x[1]:detach(), { 0, 0 })
    H.assert_close(x[2]:detach(), { 1, 1 })
    assert.is_true(x.is_leaf)
  end)
end)
