-- Float32 matrix products against the float64 product of the same values (OpenBLAS
-- dgemm), over the shapes that exercise a blocked GEMM: sizes on both sides of its tiles
-- (12x32 here, 16-deep packing steps, 512-deep blocks), all four transpose combinations,
-- leading dimensions past the row length, alpha/beta (beta = 0 with NaN in the input and
-- in out), k = 0, bmm/matmul and products run one per thread. Used by linalg_spec.lua in
-- process, and run as a script (`th spec/support/sgemm_check.lua`, printing "ok <cases>")
-- with EMBER_SGEMM set, so that every shape goes through one kernel.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local M = {}

local SIZES = { 1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 257, 515 }

-- A float32 m x n matrix as stored for an operand: transposed (a view of an n x m
-- matrix) and/or narrowed out of a wider one (leading dimension past the row length).
local function operand(m, n, trans, wide)
  local rows, cols = m, n
  if trans then rows, cols = n, m end
  local t = torch.randn(rows, cols + (wide and 5 or 0))
  if wide then t = t:narrow(2, 3, cols) end
  return trans and t:t() or t
end

-- got (float32) against ref (float64): float32 rounding grows with the depth k
local function check(got, ref, k, label)
  local atol, rtol = 1e-6 * (k + 1), 1e-5
  local ok = (got:double() - ref):abs():le(ref:abs():mul(rtol):add(atol)):all():item()
  if not ok then
    local fine, err = pcall(H.assert_close, got, ref, { ignore_dtype = true, rtol = rtol, atol = atol })
    error(label .. ': ' .. (fine and 'mismatch' or tostring(err)), 0)
  end
end

local function mm_case(m, n, k, ta, tb, wide_a, wide_b)
  local a, b = operand(m, k, ta, wide_a), operand(k, n, tb, wide_b)
  check(torch.mm(a, b), torch.mm(a:double(), b:double()), k,
    ('%dx%d @ %dx%d, ta=%s tb=%s'):format(m, k, k, n, ta, tb))
end

-- Runs every case (opts.large adds a 1000x900 @ 900x1200 product); returns how many.
function M.run(opts)
  opts = opts or {}
  local cases = 0
  torch.manual_seed(1)
  -- a spread of sizes, the transposes and wide leading dims rotating through them
  for i, m in ipairs(SIZES) do
    for j, n in ipairs(SIZES) do
      local k = SIZES[(i * 5 + j * 7) % #SIZES + 1]
      if m * n * k <= 4e6 then
        mm_case(m, n, k, (i + j) % 2 == 1, (i + 2 * j) % 4 >= 2, (i + j) % 3 == 0, (i * j) % 3 == 1)
        cases = cases + 1
      end
    end
  end
  -- all four transpose combinations on ragged sizes, and depths past one block
  for _, s in ipairs { { 17, 33, 31 }, { 100, 7, 257 }, { 31, 515, 16 }, { 64, 100, 100 }, { 13, 45, 800 } } do
    for _, ta in ipairs { false, true } do
      for _, tb in ipairs { false, true } do
        mm_case(s[1], s[2], s[3], ta, tb, true, false)
        cases = cases + 1
      end
    end
  end
  -- alpha and beta; beta = 0 ignores NaN in the input and in out
  torch.manual_seed(3)
  for _, s in ipairs { { 33, 47, 100 }, { 7, 300, 17 }, { 130, 64, 515 } } do
    local m, n, k = s[1], s[2], s[3]
    local c, a, b = torch.randn(m, n), operand(m, k, false, true), operand(k, n, true, false)
    local prod = torch.mm(a:double(), b:double())
    check(torch.addmm(c, a, b, { beta = 0.5, alpha = -1.5 }), prod * -1.5 + c:double() * 0.5, k, 'addmm beta=0.5')
    check(torch.addmm(torch.full({ m, n }, 0 / 0), a, b, { beta = 0, alpha = 2 }), prod * 2, k, 'addmm beta=0')
    local out = torch.full({ m, n }, 0 / 0)
    torch.mm(a, b, { out = out })
    check(out, prod, k, 'mm into a NaN-filled out')
    cases = cases + 3
  end
  -- k = 0: beta * input, or zeros
  local e1, e2 = torch.empty(20, 0), torch.empty(0, 40)
  H.assert_close(torch.mm(e1, e2), torch.zeros(20, 40))
  H.assert_close(torch.addmm(torch.full({ 20, 40 }, 3.0), e1, e2, { beta = 0.5 }), torch.full({ 20, 40 }, 1.5))
  local out = torch.full({ 20, 40 }, 0 / 0)
  torch.mm(e1, e2, { out = out })
  H.assert_close(out, torch.zeros(20, 40))
  -- bmm and matmul; 100^3 products one per thread (the kernel single-threaded inside the region)
  torch.manual_seed(4)
  local a, b = torch.randn(3, 17, 33), torch.randn(3, 40, 33):transpose(2, 3)
  check(torch.bmm(a, b), torch.bmm(a:double(), b:double()), 33, 'bmm')
  local p, q = torch.randn(4, 100, 100), torch.randn(4, 100, 100)
  check(torch.bmm(p, q), torch.bmm(p:double(), q:double()), 100, 'bmm in parallel')
  local x, w = torch.randn(2, 5, 257), torch.randn(31, 257)
  check(torch.matmul(x, w:t()), torch.matmul(x:double(), w:double():t()), 257, 'matmul broadcast')
  cases = cases + 6
  if opts.large then
    torch.manual_seed(5)
    local la, lb = torch.randn(1000, 900), torch.randn(900, 1200)
    check(torch.mm(la, lb), torch.mm(la:double(), lb:double()), 900, 'large mm')
    check(torch.mm(lb:t(), la:t()), torch.mm(lb:double():t(), la:double():t()), 900, 'large mm, both transposed')
    cases = cases + 2
  end
  return cases
end

if arg and arg[0] and arg[0]:match('sgemm_check%.lua$') then
  print('ok ' .. M.run())
end
return M
