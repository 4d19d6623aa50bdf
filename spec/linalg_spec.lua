-- Linear algebra: mm, mv, bmm, matmul, dot, outer, addmm, addmv, baddbmm, einsum.
-- Values come from PyTorch (scripts/fixtures/gen_linalg.py); layouts the GEMM kernel
-- treats differently (transposed, narrowed, expanded, stride-0, strided out) are
-- checked against the same fixtures or against a plain Lua reference product.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local F = H.fixture('linalg')
local T = H.tensor

-- Plain Lua reference: nested-table matrix product (independent of Ember's kernels).
local function ref_mm(a, b)
  local A, B = a:tolist(), b:tolist()
  local r = {}
  for i = 1, #A do
    r[i] = {}
    for j = 1, #B[1] do
      local s = 0
      for k = 1, #B do s = s + A[i][k] * B[k][j] end
      r[i][j] = s
    end
  end
  return r
end

describe('mm', function()
  it('matches PyTorch for float32 and float64', function()
    for _, name in ipairs { 'mm_f32', 'mm_f64' } do
      local c = F[name]
      H.assert_close(torch.mm(T(c.a), T(c.b)), c.out)
      H.assert_close(T(c.a):mm(T(c.b)), c.out)
    end
  end)

  it('takes transposed operands without copying them (lda/ldb with transposes)', function()
    local c = F.mm_f32
    local a, b = H.noncontig(T(c.a)), H.noncontig(T(c.b))
    assert.is_false(a:is_contiguous())
    H.assert_close(torch.mm(a, b), c.out)
    -- a^T stored as a 4x3 matrix, used transposed
    H.assert_close(torch.mm(T(c.a):t():contiguous():t(), T(c.b)), c.out)
  end)

  it('handles narrowed and expanded (stride-0) operands', function()
    local c = F.mm_f64
    local big = torch.zeros(5, 9, { dtype = 'float64' })
    local a = big:narrow(1, 2, 3):narrow(2, 3, 4)
    a:copy_(T(c.a))
    H.assert_close(torch.mm(a, T(c.b)), c.out)
    -- a row expanded to 3 rows: stride 0 along the rows
    local row = T(c.a):narrow(1, 1, 1)
    local e = row:expand(3, 4)
    H.assert_close(torch.mm(e, T(c.b)), ref_mm(e, T(c.b)), { rtol = 1e-10 })
    -- every-other-column view: neither row- nor column-contiguous
    local wide = torch.zeros(4, 10, { dtype = 'float64' })
    local b = wide:as_strided({ 4, 5 }, { 10, 2 }, 0)
    b:copy_(T(c.b))
    H.assert_close(torch.mm(T(c.a), b), c.out)
  end)

  it('writes into out, including transposed and strided out tensors', function()
    local c = F.mm_f32
    local out = torch.empty(3, 5)
    local r = torch.mm(T(c.a), T(c.b), { out = out })
    assert.are.equal(r:data_ptr(), out:data_ptr())
    H.assert_close(out, c.out)
    local ot = torch.zeros(5, 3):t()
    torch.mm(T(c.a), T(c.b), { out = ot })
    H.assert_close(ot, c.out)
    local os = torch.zeros(3, 10):as_strided({ 3, 5 }, { 10, 2 }, 0)
    torch.mm(T(c.a), T(c.b), { out = os })
    H.assert_close(os, c.out)
  end)

  it('computes correctly when out is one of the operands', function()
    local a = torch.tensor { { 1.0, 2.0 }, { 3.0, 4.0 } }
    local b = torch.tensor { { 5.0, 6.0 }, { 7.0, 8.0 } }
    torch.mm(a, b, { out = a })
    H.assert_close(a, { { 19, 22 }, { 43, 50 } })
  end)

  it('multiplies int64 matrices (plain C loop), also transposed', function()
    local c = F.mm_int64
    H.assert_close(torch.mm(T(c.a), T(c.b)), c.out)
    H.assert_close(torch.mm(H.noncontig(T(c.a)), H.noncontig(T(c.b))), c.out)
    local ai = T(c.a):int()
    local r = ai:mm(T(c.b):int())
    assert.are.equal('int32', r.dtype)
    H.assert_close(r, c.out, { ignore_dtype = true })
  end)

  it('computes float16 and bfloat16 through float32', function()
    local c = F.mm_f32
    for _, dt in ipairs { 'float16', 'bfloat16' } do
      local r = torch.mm(T(c.a):to(dt), T(c.b):to(dt))
      assert.are.equal(dt, r.dtype)
      H.assert_close(r:float(), c.out, { rtol = 3e-2, atol = 5e-2 })
    end
  end)

  it('gives zeros for an empty inner dimension and empty results for empty outer ones', function()
    local r = torch.mm(torch.empty(3, 0), torch.empty(0, 4))
    H.assert_close(r, torch.zeros(3, 4))
    local e = torch.mm(torch.empty(0, 3), torch.ones(3, 4))
    assert.are.same({ 0, 4 }, { e:size(1), e:size(2) })
    H.assert_close(torch.mm(torch.empty(2, 0, { dtype = 'int64' }), torch.empty(0, 2, { dtype = 'int64' })),
      { { 0, 0 }, { 0, 0 } })
  end)

  it('is fast enough to be BLAS (256x256 in well under a second)', function()
    local a = torch.ones(256, 256)
    local t0 = torch.clock()
    local r = a:mm(a)
    assert.is_true(torch.clock() - t0 < 1.0)
    H.assert_close(r:narrow(1, 1, 1):narrow(2, 1, 2), { { 256, 256 } })
  end)

  it('reports shape, rank and dtype errors', function()
    H.assert_error(function() torch.mm(torch.ones(3, 4), torch.ones(5, 2)) end,
      'mm: inner dimensions differ (3x4 @ 5x2)')
    H.assert_error(function() torch.mm(torch.ones(2, 3, 4), torch.ones(4, 2)) end,
      'mm: expected 2-d tensors, got 3-d and 2-d')
    H.assert_error(function() torch.mm(torch.ones(2, 2), torch.ones(2, 2, { dtype = 'float64' })) end,
      'mm: expected both operands to have the same dtype, got float32 and float64')
    H.assert_error(function() torch.mm(torch.ones(2, 2, { dtype = 'bool' }), torch.ones(2, 2, { dtype = 'bool' })) end,
      'mm: bool tensors are not supported (convert with x:float() or x:long())')
    H.assert_error(function() torch.mm(torch.ones(3, 4), torch.ones(4, 5), { out = torch.empty(2, 2) }) end,
      'mm: out has shape 2x2, expected 3x5')
    H.assert_error(function()
      torch.mm(torch.ones(3, 4), torch.ones(4, 5), { out = torch.empty(3, 5, { dtype = 'float64' }) })
    end, 'mm: expected out to have dtype float32, got float64')
    H.assert_error(function() torch.mm(torch.ones(2, 2), torch.ones(2, 2), { out = 3 }) end,
      "option 'out' must be a tensor")
  end)
end)

describe('mv', function()
  it('matches PyTorch, also with a transposed matrix and strided vectors', function()
    for _, name in ipairs { 'mv_f32', 'mv_f64' } do
      local c = F[name]
      H.assert_close(torch.mv(T(c.a), T(c.v)), c.out)
      H.assert_close(H.noncontig(T(c.a)):mv(H.noncontig(T(c.v))), c.out)
    end
  end)

  it('handles an expanded (stride-0) vector', function()
    local a = F.mv_f64
    local v = torch.tensor({ 0.5 }, { dtype = 'float64' }):expand(4)
    local expect = {}
    for i, row in ipairs(T(a.a):tolist()) do
      expect[i] = 0
      for _, x in ipairs(row) do expect[i] = expect[i] + 0.5 * x end
    end
    H.assert_close(torch.mv(T(a.a), v), expect)
  end)

  it('reports errors', function()
    H.assert_error(function() torch.mv(torch.ones(3, 4), torch.ones(4, 1)) end,
      'mv: expected a 2-d matrix and a 1-d vector, got 2-d and 2-d')
    H.assert_error(function() torch.mv(torch.ones(3, 4), torch.ones(5)) end, 'mv: inner dimensions differ (3x4 @ 5)')
  end)
end)

describe('bmm', function()
  it('matches PyTorch, contiguous, transposed and with an expanded batch', function()
    local c = F.bmm
    H.assert_close(torch.bmm(T(c.a), T(c.b)), c.out)
    H.assert_close(H.noncontig(T(c.a)):bmm(H.noncontig(T(c.b))), c.out)
    -- the same matrix for both batch entries through a stride-0 batch dim
    local b1 = T(c.b):narrow(1, 1, 1)
    local r = torch.bmm(T(c.a), b1:expand(2, 4, 5))
    H.assert_close(r:select(1, 1), ref_mm(T(c.a):select(1, 1), b1:select(1, 1)))
    H.assert_close(r:select(1, 2), ref_mm(T(c.a):select(1, 2), b1:select(1, 1)))
  end)

  it('runs many small products in parallel correctly (float32 and int64)', function()
    local av, bv = {}, {}
    for b = 1, 64 do
      av[b], bv[b] = {}, {}
      for i = 1, 8 do
        av[b][i], bv[b][i] = {}, {}
        for j = 1, 8 do
          av[b][i][j] = (b * 7 + i * 3 + j) % 11 - 5
          bv[b][i][j] = (b * 5 + i + j * 2) % 9 - 4
        end
      end
    end
    for _, dt in ipairs { 'float32', 'int64' } do
      local a, b = torch.tensor(av, { dtype = dt }), torch.tensor(bv, { dtype = dt })
      local r = torch.bmm(a, b)
      for _, k in ipairs { 1, 33, 64 } do
        H.assert_close(r:select(1, k), ref_mm(a:select(1, k), b:select(1, k)))
      end
    end
  end)

  it('writes into out', function()
    local c = F.bmm
    local out = torch.empty(2, 3, 5)
    torch.bmm(T(c.a), T(c.b), { out = out })
    H.assert_close(out, c.out)
  end)

  it('reports errors', function()
    H.assert_error(function() torch.bmm(torch.ones(2, 3, 4), torch.ones(3, 4, 5)) end,
      'bmm: batch sizes differ (2x3x4 @ 3x4x5)')
    H.assert_error(function() torch.bmm(torch.ones(3, 4), torch.ones(4, 5)) end,
      'bmm: expected 3-d tensors, got 2-d and 2-d')
    H.assert_error(function() torch.bmm(torch.ones(2, 3, 4), torch.ones(2, 5, 5)) end,
      'bmm: inner dimensions differ (2x3x4 @ 2x5x5)')
  end)
end)

describe('matmul', function()
  it('matches PyTorch for every rank combination and batch broadcasting', function()
    for i, c in ipairs(F.matmul) do
      local ok, err = pcall(H.assert_close, torch.matmul(T(c.a), T(c.b)), c.out)
      assert(ok, ('case %d: %s'):format(i, err))
      ok, err = pcall(H.assert_close, H.noncontig(T(c.a)):matmul(H.noncontig(T(c.b))), c.out)
      assert(ok, ('case %d (non-contiguous): %s'):format(i, err))
    end
  end)

  it('broadcasts batch dims: (2,1,3,4) @ (5,4,2) -> (2,5,3,2)', function()
    local c = F.matmul[9]
    local r = torch.matmul(T(c.a), T(c.b))
    assert.are.same({ 2, 5, 3, 2 }, { r:size(1), r:size(2), r:size(3), r:size(4) })
    H.assert_close(r, c.out)
  end)

  it('gives a 0-d tensor for two vectors, and writes into out', function()
    local c = F.matmul[1]
    local r = torch.matmul(T(c.a), T(c.b))
    assert.are.equal(0, r:dim())
    H.assert_close(r, c.out)
    local c2 = F.matmul[7]
    local out = torch.empty(2, 3, 5)
    torch.matmul(T(c2.a), T(c2.b), { out = out })
    H.assert_close(out, c2.out)
  end)

  it('reports errors', function()
    H.assert_error(function() torch.matmul(torch.tensor(1.0), torch.ones(2, 2)) end,
      'matmul: both arguments need at least 1 dimension, got 0-d and 2-d')
    H.assert_error(function() torch.matmul(torch.ones(2, 3, 4), torch.ones(3, 4, 5)) end,
      'matmul: shapes 2 and 3 are not broadcastable')
    H.assert_error(function() torch.matmul(torch.ones(3), torch.ones(4)) end, 'matmul: sizes differ (3 and 4)')
    H.assert_error(function() torch.matmul(torch.ones(2, 3), torch.ones(4)) end,
      'matmul: inner dimensions differ (2x3 @ 4)')
  end)
end)

describe('dot and outer', function()
  it('dot matches PyTorch; strided operands too', function()
    local c = F.dot
    H.assert_close(torch.dot(T(c.a), T(c.b)), c.out)
    H.assert_close(H.noncontig(T(c.a)):dot(H.noncontig(T(c.b))), c.out)
    H.assert_close(torch.dot(torch.tensor { 1, 2, 3 }, torch.tensor { 4, 5, 6 }), 32)
  end)

  it('outer (and ger) match PyTorch', function()
    local c = F.outer
    H.assert_close(torch.outer(T(c.a), T(c.b)), c.out)
    H.assert_close(T(c.a):ger(H.noncontig(T(c.b))), c.out)
  end)

  it('reports errors', function()
    H.assert_error(function() torch.dot(torch.ones(3), torch.ones(4)) end, 'dot: sizes differ (3 and 4)')
    H.assert_error(function() torch.dot(torch.ones(2, 2), torch.ones(4)) end, 'dot: expected 1-d tensors, got 2-d and 1-d')
    H.assert_error(function() torch.dot(torch.ones(3), torch.ones(3, { dtype = 'float64' })) end,
      'dot: expected both operands to have the same dtype, got float32 and float64')
    H.assert_error(function() torch.outer(torch.ones(3, 1), torch.ones(4)) end, 'outer: expected 1-d tensors')
  end)
end)

describe('addmm, addmv, baddbmm', function()
  it('addmm matches PyTorch with beta and alpha, and broadcasts input', function()
    local c = F.addmm
    H.assert_close(torch.addmm(T(c.input), T(c.a), T(c.b), { beta = 0.5, alpha = 2.0 }), c.out)
    H.assert_close(T(c.input):addmm(H.noncontig(T(c.a)), T(c.b), { beta = 0.5, alpha = 2.0 }), c.out)
    local cb = F.addmm_bcast
    H.assert_close(torch.addmm(T(cb.input), T(cb.a), T(cb.b)), cb.out)
  end)

  it('addmm with out= and the in-place addmm_', function()
    local c = F.addmm
    local out = torch.empty(3, 5)
    torch.addmm(T(c.input), T(c.a), T(c.b), { beta = 0.5, alpha = 2.0, out = out })
    H.assert_close(out, c.out)
    local m = T(c.input)
    local r = m:addmm_(T(c.a), T(c.b), { beta = 0.5, alpha = 2.0 })
    assert.are.equal(m, r)
    H.assert_close(m, c.out)
  end)

  it('beta = 0 ignores NaN in input', function()
    local input = torch.full({ 2, 2 }, 0 / 0)
    local r = torch.addmm(input, torch.ones(2, 3), torch.ones(3, 2), { beta = 0 })
    H.assert_close(r, { { 3, 3 }, { 3, 3 } })
  end)

  it('addmv and baddbmm match PyTorch', function()
    local c = F.addmv
    H.assert_close(torch.addmv(T(c.input), T(c.a), T(c.v), { beta = 2.0, alpha = -1.0 }), c.out)
    local b = F.baddbmm
    H.assert_close(torch.baddbmm(T(b.input), T(b.a), T(b.b), { beta = 0.25, alpha = 3.0 }), b.out)
    H.assert_close(T(b.input):baddbmm(H.noncontig(T(b.a)), H.noncontig(T(b.b)), { beta = 0.25, alpha = 3.0 }),
      b.out)
  end)

  it('integer addmm needs integer alpha/beta', function()
    local i = torch.tensor { { 1, 2 }, { 3, 4 } }
    H.assert_close(torch.addmm(i, i, i, { beta = 2, alpha = 3 }), { { 23, 34 }, { 51, 74 } })
    H.assert_error(function() torch.addmm(i, i, i, { alpha = 0.5 }) end,
      'addmm: alpha must be an integer for int64 tensors, got 0.5')
  end)

  it('reports errors', function()
    H.assert_error(function() torch.addmm(torch.ones(4), torch.ones(3, 4), torch.ones(4, 5)) end,
      'addmm: input of shape 4 cannot be broadcast to 3x5')
    H.assert_error(function() torch.addmm(torch.ones(3, 5), torch.ones(3, 4), torch.ones(5)) end,
      'addmm: expected 2-d matrices, got 2-d and 1-d')
    H.assert_error(function()
      torch.addmm(torch.ones(3, 5, { dtype = 'float64' }), torch.ones(3, 4), torch.ones(4, 5))
    end, 'addmm: expected input to have the same dtype as the product, got float64 and float32')
    H.assert_error(function() torch.addmv(torch.ones(3), torch.ones(3, 4), torch.ones(4, 4)) end,
      'addmv: expected a 2-d matrix and a 1-d vector, got 2-d and 2-d')
    H.assert_error(function() torch.baddbmm(torch.ones(2, 3, 5), torch.ones(2, 3, 4), torch.ones(3, 4, 5)) end,
      'baddbmm: batch sizes differ (2x3x4 @ 3x4x5)')
    H.assert_error(function() torch.addmm(torch.ones(2, 2), torch.ones(2, 2), torch.ones(2, 2), { beta = 'x' }) end,
      "option 'beta' must be a number, got string")
  end)
end)

describe('einsum', function()
  it('matches PyTorch for the common equations', function()
    for eq, c in pairs(F.einsum) do
      local ops = {}
      for i, o in ipairs(c.ops) do ops[i] = T(o) end
      local ok, err = pcall(H.assert_close, torch.einsum(eq, table.unpack(ops)), c.out, { rtol = 1e-5, atol = 1e-5 })
      assert(ok, eq .. ': ' .. tostring(err))
      ok, err = pcall(H.assert_close, torch.einsum(eq, ops), c.out, { rtol = 1e-5, atol = 1e-5 })
      assert(ok, eq .. ' (operands as a table): ' .. tostring(err))
    end
  end)

  it('works on non-contiguous operands', function()
    local c = F.einsum['bhqd,bhkd->bhqk']
    H.assert_close(torch.einsum('bhqd,bhkd->bhqk', H.noncontig(T(c.ops[1])), H.noncontig(T(c.ops[2]))), c.out,
      { rtol = 1e-5, atol = 1e-5 })
  end)

  it('writes out ... for operands of different ranks, the ellipsis dims right-aligned', function()
    local c = F.einsum['...ij,...jk->...ik']
    local a, b = T(c.ops[1]), T(c.ops[2])
    H.assert_close(torch.einsum('...ij,...jk->...ik', H.noncontig(a), b), c.out, { rtol = 1e-5, atol = 1e-5 })
    -- the same as a broadcast matmul
    H.assert_close(torch.einsum('...ij,...jk->...ik', a, b), a:matmul(b), { rtol = 1e-5, atol = 1e-5 })
    H.assert_close(torch.einsum(' ... i j , ... j k -> ... i k ', a, b), c.out, { rtol = 1e-5, atol = 1e-5 })
    -- an output '...' with no ellipsis in the inputs stands for no dims
    H.assert_close(torch.einsum('ij->...ji', a[1][1]), a[1][1]:t())
    assert.equal('float64', torch.einsum('...,...', torch.ones(2, { dtype = 'float64' }), torch.ones(2, 2,
      { dtype = 'float64' })).dtype)
  end)

  it('reports errors in equations with ...', function()
    local a = torch.ones(2, 3)
    H.assert_error(function() torch.einsum('..ij', a) end,
      "einsum: found '.' for operand 1 that is not part of an ellipsis ('...')")
    H.assert_error(function() torch.einsum('...i...', a) end, "einsum: operand 1 has more than one ellipsis ('...')")
    H.assert_error(function() torch.einsum('ijk...', a) end,
      'einsum: operand 1 has 2 dimensions but the equation gives it 3 subscripts besides the ellipsis')
    H.assert_error(function() torch.einsum('...i->..', a) end,
      "einsum: found '.' in the output that is not part of an ellipsis ('...')")
    H.assert_error(function() torch.einsum('...i->......', a) end,
      "einsum: the output has more than one ellipsis ('...')")
    H.assert_error(function() torch.einsum('...i,...i', a, torch.ones(4, 3)) end,
      "einsum: the dimensions of '...' do not broadcast: size 4 in operand 2 against 2")
    H.assert_error(function() torch.einsum('ij->jj', a) end, "einsum: output subscript 'j' appears more than once")
    local big = torch.ones(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)
    H.assert_error(function() torch.einsum('abcdefghijklmnop,qr', big, torch.ones(2, 2)) end,
      'einsum: the output has more than 16 dimensions')
    local letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
    local eq = letters:sub(1, 16) .. ',' .. letters:sub(17, 32) .. ',' .. letters:sub(33, 48) .. ',' ..
        letters:sub(49, 52) .. '...->'
    H.assert_error(function() torch.einsum(eq, big, big, big, torch.ones(2, 2, 2, 2, 2)) end,
      "einsum: no unused subscript letters are left for the 1 dimensions of '...'")
  end)

  it('reports errors', function()
    local a = torch.ones(2, 3)
    H.assert_error(function() torch.einsum('ij,jk->ik', a) end, 'einsum: the equation has 2 operands but 1 were given')
    H.assert_error(function() torch.einsum('ijk->i', a) end,
      'einsum: operand 1 has 2 dimensions but the equation gives it 3 subscripts')
    H.assert_error(function() torch.einsum('ij,jk->ik', a, torch.ones(4, 2)) end,
      'einsum: subscript j has size 4 in operand 2, which does not broadcast with 3')
    H.assert_error(function() torch.einsum('i1->i', a) end, "einsum: invalid subscript '1'")
    H.assert_error(function() torch.einsum('ij->k', a) end, "einsum: output subscript 'k' does not appear in the inputs")
    H.assert_error(function() torch.einsum('ii->i', torch.ones(1, 3)) end,
      'einsum: subscript i is repeated for dimensions of different sizes (1 and 3)')
    H.assert_error(function() torch.einsum('ij,jk', a, 3) end, 'bad argument #3')
  end)
end)

-- float32 products go through Ember's own blocked GEMM (core/cpu/sgemm.c) on AVX-512
-- CPUs, for the shapes where it beats OpenBLAS. spec/support/sgemm_check.lua checks it
-- against the float64 product of the same values over sizes on both sides of its tiles,
-- every transpose combination, wide leading dimensions, alpha/beta and k = 0; here with
-- the default choice of kernel, and in a child interpreter with every shape forced through
-- Ember's kernel (EMBER_SGEMM=always: the small edge cases) or through OpenBLAS (=off).
describe('float32 GEMM kernel', function()
  local check = dofile('spec/support/sgemm_check.lua')

  it('matches the float64 product (default choice of kernel, and a large problem)', function()
    assert.is_true(check.run({ large = true }) > 100)
  end)

  for _, mode in ipairs { 'always', 'off' } do
    it('matches the float64 product with EMBER_SGEMM=' .. mode, function()
      local exe = io.popen('readlink /proc/' .. (io.open('/proc/self/stat'):read('l'):match('^%d+')) .. '/exe')
      local th = exe:read('l')
      exe:close()
      if not th or not th:match('/th$') then return end -- run by a plain lua: nothing to start
      local p = io.popen('EMBER_SGEMM=' .. mode .. ' ' .. th .. ' spec/support/sgemm_check.lua 2>&1')
      local text = p:read('a')
      p:close()
      assert(text:match('^ok %d+'), text)
    end)
  end
end)

describe('OpenBLAS loading', function()
  it('raises a clear error (no crash) when OpenBLAS cannot be loaded', function()
    local th = io.open('build/th') and 'build/th'
    if not th then return end -- only where the spec runs from the project root
    local p = io.popen('EMBER_OPENBLAS=/nonexistent ' .. th ..
      [[ -e "print(pcall(torch.mm, torch.ones(2, 2), torch.ones(2, 2)))" 2>&1]])
    local text = p:read('a')
    p:close()
    assert(text:find('mm: OpenBLAS could not be loaded', 1, true), text)
  end)
end)

describe('torch.clock', function()
  it('is a monotonic clock in seconds', function()
    local t0 = torch.clock()
    local t1 = torch.clock()
    assert.is_number(t0)
    assert.is_true(t1 >= t0)
  end)
end)
