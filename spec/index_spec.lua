-- Indexing: x[...] reads and writes, index_select / gather / scatter / index_put,
-- masked ops and nonzero, checked against PyTorch (fixture indices are 1-based).
local torch = require 'torch'
local H = require 'spec.support.helpers'
local F = H.fixture('index')

local function T(e) return H.tensor(e) end

describe('x[...] reading', function()
  local t = T(F.getitem.t) -- 2x3x4, values 0..23

  it('selects with an integer and gives a number for a 1-d tensor', function()
    assert.equal(2, t[1]:dim())
    assert.equal(5, t[1][2][2])
    assert.equal(23, t[-1][-1][-1])
  end)
  it('takes a table of per-dim entries, Torch7 ranges inclusive', function()
    H.assert_close(t[{ 2, { 2, 3 } }], F.getitem.a)
    H.assert_close(t[{ {}, -1 }], F.getitem.b)
    H.assert_close(t[{ 1, {}, { 2, 4, 2 } }], F.getitem.c)
    H.assert_close(t[{ {}, { 2, -1 } }], t:narrow(2, 2, 2))
    H.assert_close(t[{ { 1 } }], t:narrow(1, 1, 1))
    assert.equal(t, t) -- no side effects on t
  end)
  it('gives a Lua number when every dim is selected', function()
    assert.equal(F.getitem.e.data[1], t[{ 2, 3, 4 }])
    assert.equal(math.type(t[{ -1, -1, -1 }]), 'integer')
  end)
  it('returns views for ranges and shares storage', function()
    local x = torch.zeros(3, 4)
    local v = x[{ { 2, 3 }, {} }]
    v[1][1] = 7
    assert.equal(7, x[2][1])
  end)
  it('leaves missing dims whole and accepts an empty range', function()
    assert.same({ 3, 4 }, { t[{ 1 }]:size(1), t[{ 1 }]:size(2) })
    assert.equal(0, t[{ {}, { 3, 2 } }]:size(2))
  end)
  it('indexes with an int64 tensor along dim 1 (shape idx.shape + rest)', function()
    local idx = torch.tensor { { 2, 1 }, { 2, 2 } }
    H.assert_close(t[idx], F.getitem.d)
    H.assert_close(t[torch.tensor { -1, 1 }], t[torch.tensor { 2, 1 }])
    H.assert_close(t[H.noncontig(idx)], F.getitem.d)
  end)
  it('selects with a bool mask (same shape or leading dims)', function()
    local x, mask = T(F.masked.x), T(F.masked.mask)
    H.assert_close(x[mask], F.masked.select)
    H.assert_close(x[T(F.masked.row_mask)], F.masked.rows)
    H.assert_close(H.noncontig(x)[H.noncontig(mask)], F.masked.select)
  end)
end)

describe('x[...] = v', function()
  it('assigns through integers, tables and ranges', function()
    local x = torch.zeros(3, 4)
    x[{ 2, {} }] = 5
    x[{ { 1, 2 }, { 3, 4 } }] = torch.tensor { { 1, 2 }, { 3, 4 } }
    x[3] = torch.tensor { 9, 8, 7, 6 }
    x[{ 3, -1 }] = -1
    H.assert_close(x, { { 0, 0, 1, 2 }, { 5, 5, 3, 4 }, { 9, 8, 7, -1 } })
  end)
  it('broadcasts a tensor into a range', function()
    local x = torch.zeros(2, 3)
    x[{ {}, { 2, 3 } }] = torch.tensor { 1, 2 }
    H.assert_close(x, { { 0, 1, 2 }, { 0, 1, 2 } })
  end)
  it('fills and scatters through a mask', function()
    local x, mask = T(F.masked.x), T(F.masked.mask)
    local y = x:clone()
    y[mask] = 0.5
    H.assert_close(y, F.masked.fill)
    y = x:clone()
    y[mask] = T(F.masked.src):narrow(1, 1, F.masked.select.shape[1])
    H.assert_close(y, F.masked.scatter)
    y = x:clone()
    y[T(F.masked.row_mask)] = 7
    H.assert_close(y, F.masked.fill_rows)
  end)
  it('assigns rows through an index tensor (scalar and broadcast tensor)', function()
    local y = T(F.getitem.t)
    y[torch.tensor { 2, 1 }] = torch.tensor { 100, 200, 300, 400 }
    H.assert_close(y, F.setitem.idx_row)
    local x = torch.zeros(3, 2)
    x[torch.tensor { 1, -1 }] = 4
    H.assert_close(x, { { 4, 4 }, { 0, 0 }, { 4, 4 } })
  end)
end)

describe('index errors', function()
  local x = torch.zeros(4, 3)
  it('names the dim and size of an out-of-range index', function()
    H.assert_error(function() return x[5] end, 'index: index 5 is out of range for dimension 1 of size 4')
    H.assert_error(function() return x[0] end, 'index 0 is out of range for dimension 1 of size 4 (indices are 1-based)')
    H.assert_error(function() return x[{ 1, 4 }] end, 'index: index 4 is out of range for dimension 2 of size 3')
    H.assert_error(function() return x[{ { 2, 5 } }] end, 'index: range 2..5 is out of range for dimension 1 of size 4')
    H.assert_error(function() x[{ 1, -4 }] = 1 end, 'index -4 is out of range for dimension 2 of size 3')
    H.assert_error(function() return x[torch.tensor { 1, 5 }] end,
      'index: index 5 is out of bounds for dimension 1 with size 4')
  end)
  it('rejects too many indices and wrong key types', function()
    H.assert_error(function() return x[{ 1, 1, 1 }] end, 'index: too many indices for a 2-d tensor (3 given)')
    H.assert_error(function() return x[true] end, 'index: unsupported index of type boolean')
    H.assert_error(function() return x[1.5] end, 'index: index must be an integer, got 1.5')
    H.assert_error(function() return x[{ 'a' }] end, 'entry 1 must be an integer, a {first, last} table or a tensor, got string')
    H.assert_error(function() return x[torch.zeros(2)] end, 'must hold integers (int64) or a mask (bool), got float32')
    H.assert_error(function() return x[{ { 1, 2, 0 } }] end, 'range step must be positive, got 0')
    H.assert_error(function() x[1] = 'a' end, 'cannot assign a string')
  end)
  it('reports mask shape mismatches', function()
    H.assert_error(function() return x[torch.tensor { true, false }] end,
      'index: mask of shape 2 does not match the indexed tensor\'s shape 4x3')
    H.assert_error(function() x:masked_fill_(torch.tensor { true, false }, 1) end,
      'masked_fill_: mask of shape 2 cannot be broadcast to the input\'s shape 4x3')
    H.assert_error(function() x:masked_fill_(torch.zeros(4, 3), 1) end, 'masked_fill_: mask must be a bool tensor, got float32')
  end)
  it('raises only Lua errors for a random mix of bad keys', function()
    local keys = { 0, -5, 5, math.maxinteger, math.mininteger, 2.5, 0 / 0, 1 / 0, true, 'x', {},
      { 0 }, { 5 }, { {} }, { { 0, 1 } }, { { 3, 9 } }, { { -9, 2 } }, { { 1, 2, -1 } }, { { 1, 2, 3, 4 } },
      { 1, 1, 1 }, { { 'a' } }, { math.maxinteger }, { { math.mininteger, math.maxinteger } }, print,
      torch.tensor { 0 }, torch.tensor { 9 }, torch.tensor { math.mininteger }, torch.tensor { true },
      torch.zeros(2, 2), torch.tensor { { true, false, true, true, false } } }
    math.randomseed(7)
    local t = torch.zeros(4, 3)
    for _ = 1, 300 do
      local k = keys[math.random(#keys)]
      if math.random() < 0.3 then k = { keys[math.random(#keys)], keys[math.random(#keys)] } end
      local ok, err = pcall(function() return t[k] end)
      assert(ok or type(err) == 'string', 'non-string error')
      ok, err = pcall(function() t[k] = math.random() < 0.5 and 1 or torch.ones(2) end)
      assert(ok or type(err) == 'string', 'non-string error')
    end
  end)
end)

describe('tensors inside index tables (advanced indexing)', function()
  local A = F.advanced
  local u = T(A.u) -- 3x4x5
  local i0, i1, i2, m2 = T(A.i0), T(A.i1), T(A.i2), T(A.m2)
  it('reads with several index tensors, broadcast together, adjacent ones in place', function()
    H.assert_close(u[{ i0, i2 }], A.two)
    H.assert_close(u[{ {}, i1, i2 }], A.bcast)
    H.assert_close(u[{ i0, i1, i2 }], A.three)
  end)
  it('puts separated index dims first; integers and ranges apply before', function()
    H.assert_close(u[{ i1, {}, i2 }], A.apart)
    H.assert_close(u[{ { 1, 2 }, i1 }], A.range_idx)
    H.assert_close(u[{ i0, 2 }], A.idx_int)
    H.assert_close(u[{ 2, {}, i2 }], A.int_apart)
  end)
  it('reads with a mask covering several dims', function()
    H.assert_close(u[{ m2 }], A.mask2d)
    H.assert_close(u[{ m2, 4 }], A.mask_int)
    H.assert_close(u[{ m2 }], u[m2])
  end)
  it('reads from non-contiguous tensors with non-contiguous indices', function()
    local nu = H.noncontig(u)
    H.assert_close(nu[{ {}, H.noncontig(i1), i2 }], A.bcast)
    H.assert_close(nu[{ i1, {}, H.noncontig(i2) }], A.apart)
    H.assert_close(u[{ i0:int(), i2 }], A.two)
  end)
  it('writes tensors and numbers through the same keys', function()
    local w = u:clone()
    w[{ i0, i2 }] = torch.tensor { { 10 }, { 20 }, { 30 } }
    H.assert_close(w, F.advanced_set.two)
    w = u:clone()
    w[{ {}, i1, i2 }] = -1
    H.assert_close(w, F.advanced_set.bcast_fill)
    w = u:clone()
    w[{ i1, {}, i2 }] = torch.arange(24.0):reshape(2, 3, 4)
    H.assert_close(w, F.advanced_set.apart)
    w = u:clone()
    w[{ { 1, 2 }, i1 }] = torch.arange(5.0)
    H.assert_close(w, F.advanced_set.range_idx)
    w = u:clone()
    w[{ m2 }] = torch.arange(5.0)
    H.assert_close(w, F.advanced_set.mask2d)
    w = u:clone()
    w[{ 2, {}, i2 }] = torch.arange(4.0):reshape(4, 1)
    H.assert_close(w, F.advanced_set.int_apart)
  end)
  it('writes into a non-contiguous tensor (its storage)', function()
    local base = torch.zeros(4, 3)
    local w = base:t() -- 3x4 view
    w[{ torch.tensor { 1, 3 }, torch.tensor { 2, 4 } }] = torch.tensor { 5.0, 6.0 }
    H.assert_close(base, { { 0, 0, 0 }, { 5, 0, 0 }, { 0, 0, 0 }, { 0, 0, 6 } })
  end)
  it('raises clear errors', function()
    H.assert_error(function() return u[{ i0, torch.tensor { 1, 2 } }] end, 'index: shapes')
    H.assert_error(function() return u[{ torch.tensor { 4 } }] end,
      'index: index 4 is out of bounds for dimension 1 with size 3')
    H.assert_error(function() return u[{ 1, torch.tensor { 9 } }] end, 'for dimension 2 with size 4')
    H.assert_error(function() return u[{ torch.ones(3, 2):bool() }] end, 'does not match size 4 of dimension 2')
    H.assert_error(function() return u[{ 1, 1, 1, torch.tensor { 1 } }] end, 'index: too many indices')
    H.assert_error(function() return u[{ torch.tensor(true) }] end, '0-d mask')
    H.assert_error(function() u[{ i0, i2 }] = torch.ones(2) end, 'cannot be broadcast to indexing result of shape 3x5')
    H.assert_error(function() return u[{ torch.zeros(2) }] end, 'must hold integers (int64) or a mask (bool)')
  end)
end)

describe('index_select', function()
  local f = F.index_select
  it('matches PyTorch along each dim, with negative and non-contiguous indices', function()
    local x = T(f.x)
    H.assert_close(x:index_select(1, T(f.idx)), f.dim1)
    H.assert_close(torch.index_select(x, -1, T(f.idx)), f.dim2)
    H.assert_close(H.noncontig(x):index_select(2, H.noncontig(T(f.idx))), f.dim2)
    H.assert_close(x:index_select(1, torch.tensor { -1, 1 }), x:index_select(1, torch.tensor { 4, 1 }))
    H.assert_close(x:index_select(1, torch.tensor({ 4, 1 }, { dtype = 'int32' })), x:index_select(1, torch.tensor { 4, 1 }))
  end)
  it('works for every dtype', function()
    for _, dt in ipairs { 'float64', 'int32', 'uint8', 'bool', 'float16', 'int16' } do
      local x = torch.tensor({ 0, 1, 2, 3 }):to(dt)
      local r = x:index_select(1, torch.tensor { 4, 2 })
      assert.equal(dt, r.dtype)
      H.assert_close(r:to('float64'), torch.tensor({ 3, 1 }):to(dt):to('float64'))
    end
  end)
  it('checks bounds and index types', function()
    local x = torch.zeros(4, 5)
    H.assert_error(function() x:index_select(2, torch.tensor { 6 }) end,
      'index_select: index 6 is out of bounds for dimension 2 with size 5')
    H.assert_error(function() x:index_select(2, torch.tensor { 0 }) end, 'index 0 is out of bounds')
    H.assert_error(function() x:index_select(2, torch.zeros(2)) end, 'index must be an integer tensor')
    H.assert_error(function() x:index_select(2, torch.tensor { { 1 } }) end, 'index_select: index must be 1-d')
    H.assert_error(function() x:index_select(3, torch.tensor { 1 }) end, 'dimension 3 out of range')
  end)
end)

describe('gather', function()
  local f = F.gather
  it('matches PyTorch, contiguous and not', function()
    local x = T(f.x)
    H.assert_close(x:gather(2, T(f.idx)), f.out)
    H.assert_close(torch.gather(x, 1, T(f.idx1)), f.out1)
    H.assert_close(H.noncontig(x):gather(2, H.noncontig(T(f.idx))), f.out)
  end)
  it('checks every index before reading', function()
    local x = torch.zeros(3, 4)
    H.assert_error(function() x:gather(2, torch.tensor { { 1, 5 } }) end,
      'gather: index 5 is out of bounds for dimension 2 with size 4')
    H.assert_error(function() x:gather(2, torch.tensor { 1, 2 }) end, 'index must have as many dimensions')
    H.assert_error(function() x:gather(2, torch.ones(4, 1, { dtype = 'int64' })) end, 'larger than the input')
  end)
end)

describe('scatter', function()
  local f = F.scatter
  it('matches PyTorch for tensor and value sources and reductions', function()
    local base, idx, src = T(f.base), T(f.idx), T(f.src)
    H.assert_close(base:clone():scatter_(1, idx, src), f.scatter)
    H.assert_close(base:scatter(1, idx, src), f.scatter)
    H.assert_close(base:clone():scatter_(1, idx, 2.5), f.scatter_value)
    H.assert_close(base:clone():scatter_add_(1, idx, src), f.scatter_add)
    H.assert_close(torch.scatter_add(base, 1, H.noncontig(idx), H.noncontig(src)), f.scatter_add)
    H.assert_close(base:clone():scatter_(1, idx, src, { reduce = 'add' }), f.reduce_add)
    H.assert_close(base:clone():scatter_(1, idx, src, { reduce = 'multiply' }), f.reduce_mul)
  end)
  it('checks bounds before writing anything', function()
    local x = torch.zeros(2, 3)
    local idx = torch.tensor { { 1, 2, 3 }, { 1, 9, 1 } }
    H.assert_error(function() x:scatter_(2, idx, 1) end, 'scatter_: index 9 is out of bounds for dimension 2 with size 3')
    H.assert_close(x, torch.zeros(2, 3))
    H.assert_error(function() x:scatter_add_(2, idx, torch.ones(2, 3)) end, 'scatter_add_: index 9 is out of bounds')
    H.assert_error(function() x:scatter_(2, idx, 1, { reduce = 'max' }) end, "reduce must be 'add' or 'multiply'")
    H.assert_error(function() x:scatter_(1, torch.tensor { { 1, 1, 1, 1 } }, 1) end, 'larger than the input')
  end)
end)

describe('index_add_ / index_copy_ / index_fill_', function()
  local f = F.index_put
  it('match PyTorch', function()
    local x = T(f.base)
    H.assert_close(x:clone():index_add_(1, T(f.idx), T(f.src)), f.add)
    H.assert_close(x:index_add(1, T(f.idx), T(f.src), { alpha = -2.0 }), f.add_alpha)
    H.assert_close(x:clone():index_copy_(1, T(f.copy_idx), T(f.src)), f.copy)
    H.assert_close(x:index_copy(1, H.noncontig(T(f.copy_idx)), H.noncontig(T(f.src))), f.copy)
    H.assert_close(x:clone():index_fill_(2, T(f.fill_idx), -1.0), f.fill)
    H.assert_close(x:index_fill(-1, T(f.fill_idx), torch.tensor(-1.0)), f.fill)
  end)
  it('work on non-contiguous self', function()
    local x = H.noncontig(T(f.base))
    x:index_add_(1, T(f.idx), T(f.src))
    H.assert_close(x, f.add)
  end)
  it('the whole-row path (contiguous float tensors) equals the element path, repeats and alpha included', function()
    for _, c in ipairs { { { 7, 5, 3 }, 2, { 7, 4, 3 } }, { { 25, 300 }, 1, { 9, 300 } }, { { 3000, 70 }, 1, { 50, 70 } },
      { { 4, 6, 2 }, 3, { 4, 6, 5 } } } do
      for _, dt in ipairs { 'float32', 'float64' } do
        local src = torch.randn(c[1], { dtype = dt })
        local idx = torch.randint(1, c[3][c[2]] + 1, { c[1][c[2]] })
        local rows = torch.zeros(c[3], { dtype = dt }):index_add_(c[2], idx, src, { alpha = 2 })
        local elems = H.noncontig(torch.zeros(c[3], { dtype = dt })):index_add_(c[2], idx, src, { alpha = 2 })
        H.assert_close(rows, elems, { rtol = 1e-6, atol = 1e-6 })
      end
    end
  end)
  it('check source shape and bounds', function()
    local x = torch.zeros(4, 5)
    H.assert_error(function() x:index_add_(1, torch.tensor { 1, 2 }, torch.ones(3, 5)) end,
      'index_add_: source shape 3x5 does not match 2x5')
    H.assert_error(function() x:index_copy_(1, torch.tensor { 5 }, torch.ones(1, 5)) end,
      'index_copy_: index 5 is out of bounds for dimension 1 with size 4')
    H.assert_error(function() x:index_fill_(2, torch.tensor { -6 }, 1) end,
      'index_fill_: index -6 is out of bounds for dimension 2 with size 5')
    H.assert_close(x, torch.zeros(4, 5))
  end)
end)

describe('masked ops and nonzero', function()
  local f = F.masked
  it('masked_select / masked_fill / masked_scatter match PyTorch', function()
    local x, mask = T(f.x), T(f.mask)
    H.assert_close(x:masked_select(mask), f.select)
    H.assert_close(torch.masked_select(x, torch.tensor { true, false, false, true, true }), f.select_bcast)
    H.assert_close(x:masked_fill(mask, 0.5), f.fill)
    H.assert_close(H.noncontig(x):masked_fill(H.noncontig(mask), 0.5), f.fill)
    H.assert_close(x:masked_fill(T(f.row_mask):view(4, 1), 7.0), f.fill_rows)
    H.assert_close(x:masked_scatter(mask, T(f.src)), f.scatter)
    local y = H.noncontig(x)
    y:masked_scatter_(mask, T(f.src))
    H.assert_close(y, f.scatter)
  end)
  it('masked_scatter_ needs enough source elements', function()
    local x = torch.zeros(2, 2)
    H.assert_error(function() x:masked_scatter_(torch.tensor { { true, true }, { true, false } }, torch.ones(2)) end,
      'masked_scatter_: the mask selects 3 elements but the source has only 2')
  end)
  it('nonzero gives 1-based coordinates; as_tuple and where(cond) give columns', function()
    local mask = T(f.mask)
    H.assert_close(mask:nonzero(), f.nonzero)
    local cols = torch.nonzero(mask, { as_tuple = true })
    assert.equal(2, #cols)
    H.assert_close(cols[2], T(f.nonzero):select(2, 2))
    local w = torch.where(mask)
    H.assert_close(w[1], T(f.nonzero):select(2, 1))
    H.assert_close(torch.tensor({ 0, 3, 0, -1.5 }):nonzero(), { { 2 }, { 4 } })
    assert.equal(0, torch.zeros(3):nonzero():size(1))
  end)
  it('take indexes the flattened tensor', function()
    local x = torch.tensor { { 1, 2 }, { 3, 4 } }
    H.assert_close(x:take(torch.tensor { { 4, 1 } }), { { 4, 1 } })
    H.assert_error(function() x:take(torch.tensor { 5 }) end, 'take: index 5 is out of bounds for dimension 1 with size 4')
  end)
end)
