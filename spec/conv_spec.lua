-- Convolution (torch.conv1d/2d/3d, torch.conv_transpose1d/2d/3d and their F. forms):
-- outputs and the gradients of input, weight and bias against PyTorch fixtures
-- (scripts/fixtures/gen_conv.py), float64 gradchecks on tiny cases, non-contiguous
-- operands, float64, and the error messages for bad shapes and options.
local torch = require 'torch'
local H = require 'spec.support.helpers'
local F = require 'nn.functional'

local FX = H.fixture('conv')
local T = H.tensor
local TOL = { rtol = 1e-4, atol = 1e-5 }

local function names()
  local n = {}
  for k in pairs(FX) do n[#n + 1] = k end
  table.sort(n)
  return n
end

-- Runs a fixture case on (possibly transformed) operands; returns y and the leaves.
local function run(c, prep)
  prep = prep or function(t) return t end
  local x, w = prep(T(c.x)), prep(T(c.w))
  local b = c.b and prep(T(c.b)) or nil
  x:requires_grad_(); w:requires_grad_()
  if b then b:requires_grad_() end
  local y = torch[c.fn](x, w, b, c.opts)
  return y, x, w, b
end

describe('conv fixtures', function()
  for _, name in ipairs(names()) do
    local c = FX[name]
    it(name .. ': output and gradients match PyTorch', function()
      local y, x, w, b = run(c)
      H.assert_close(y, c.y, TOL)
      local loss = (y * T(c.g)):sum()
      loss:backward()
      H.assert_close(x.grad, c.gx, TOL)
      H.assert_close(w.grad, c.gw, TOL)
      if b then H.assert_close(b.grad, c.gb, TOL) end
    end)
  end

  it('non-contiguous input, weight and upstream gradient give the same results', function()
    for _, name in ipairs { 'conv2d_stride_pad_dil', 'conv_transpose2d_groups', 'conv1d_basic', 'conv3d_basic' } do
      local c = FX[name]
      local y, x, w, b = run(c, H.noncontig)
      assert.is_false(x:is_contiguous())
      H.assert_close(y, c.y, TOL)
      y:backward(H.noncontig(T(c.g)))
      H.assert_close(x.grad, c.gx, TOL)
      H.assert_close(w.grad, c.gw, TOL)
      if b then H.assert_close(b.grad, c.gb, TOL) end
    end
  end)

  it('float64 operands give float64 results matching PyTorch', function()
    for _, name in ipairs { 'conv2d_groups_nobias', 'conv_transpose1d', 'conv3d_groups_dil' } do
      local c = FX[name]
      local y, x, w = run(c, function(t) return t:double() end)
      assert.are.equal('float64', y.dtype)
      H.assert_close(y, c.y, { rtol = 1e-4, atol = 1e-5, ignore_dtype = true })
      local loss = (y * T(c.g):double()):sum()
      loss:backward()
      H.assert_close(x.grad, c.gx, { rtol = 1e-4, atol = 1e-5, ignore_dtype = true })
      H.assert_close(w.grad, c.gw, { rtol = 1e-4, atol = 1e-5, ignore_dtype = true })
    end
  end)

  it('F.conv* are the same functions', function()
    local c = FX.conv2d_basic
    H.assert_close(F.conv2d(T(c.x), T(c.w), T(c.b), c.opts), c.y, TOL)
    c = FX.conv_transpose2d
    H.assert_close(F.conv_transpose2d(T(c.x), T(c.w), T(c.b), c.opts), c.y, TOL)
    c = FX.conv1d_same_even
    H.assert_close(F.conv1d(T(c.x), T(c.w), c.opts), c.y, TOL) -- bias left out, options third
  end)

  it('no graph is recorded under no_grad, and plain tensors give no grad_fn', function()
    local c = FX.conv2d_basic
    local y = torch.conv2d(T(c.x), T(c.w), T(c.b), c.opts)
    assert.is_nil(y.grad_fn)
    local w = T(c.w):requires_grad_()
    torch.no_grad(function() y = torch.conv2d(T(c.x), w, nil, c.opts) end)
    assert.is_nil(y.grad_fn)
  end)
end)

-- A reference built from matrix products of shifted views of a zero-padded input.
local function conv2d_ref(x, w, pad)
  local n, c, h, wd = x:size(1), x:size(2), x:size(3), x:size(4)
  local o, kh, kw = w:size(1), w:size(3), w:size(4)
  local xp = torch.zeros(n, c, h + 2 * pad, wd + 2 * pad, { dtype = x.dtype })
  xp:narrow(3, pad + 1, h):narrow(4, pad + 1, wd):copy_(x)
  local oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
  local y = torch.zeros(n, o, oh * ow, { dtype = x.dtype })
  for i = 1, kh do
    for j = 1, kw do
      local xs = xp:narrow(3, i, oh):narrow(4, j, ow):contiguous():view(n, c, oh * ow)
      y = y + torch.matmul(w:select(4, j):select(3, i):contiguous(), xs)
    end
  end
  return y:view(n, o, oh, ow)
end

describe('conv on larger images (several column tiles per image)', function()
  it('forward and gradients agree with matrix products of shifted views', function()
    torch.manual_seed(3)
    for _, nb in ipairs { 1, 3 } do
      local x = torch.randn(nb, 8, 70, 66, { dtype = 'float64' }):requires_grad_()
      local w = (torch.randn(4, 8, 3, 3, { dtype = 'float64' }) * 0.3):requires_grad_()
      local y = torch.conv2d(x, w, nil, { padding = 1 })
      local xr, wr = x:detach():requires_grad_(), w:detach():requires_grad_()
      local yr = conv2d_ref(xr, wr, 1)
      H.assert_close(y, yr, { rtol = 1e-9, atol = 1e-9 })
      local g = torch.randn(y:size(), { dtype = 'float64' })
      y:backward(g)
      yr:backward(g)
      H.assert_close(x.grad, xr.grad, { rtol = 1e-9, atol = 1e-9 })
      H.assert_close(w.grad, wr.grad, { rtol = 1e-9, atol = 1e-9 })
      -- strided: the input-gradient goes through col2vol
      x.grad, w.grad = nil, nil
      local x2, w2 = x:detach():requires_grad_(), w:detach():requires_grad_()
      local ys = torch.conv2d(x, w, nil, { padding = 1, stride = 2 })
      local yrs = conv2d_ref(x2, w2, 1):as_strided({ nb, 4, 35, 33 }, { 4 * 70 * 66, 70 * 66, 2 * 66, 2 }, 0)
      H.assert_close(ys, yrs, { rtol = 1e-9, atol = 1e-9 })
      local gs = torch.randn(ys:size(), { dtype = 'float64' })
      ys:backward(gs)
      yrs:backward(gs)
      H.assert_close(x.grad, x2.grad, { rtol = 1e-9, atol = 1e-9 })
      H.assert_close(w.grad, w2.grad, { rtol = 1e-9, atol = 1e-9 })
    end
  end)
end)

describe('conv float32 fast path (5 or more output channels per group)', function()
  it('agrees with the float64 computation, with partial column strips and several tiles', function()
    torch.manual_seed(5)
    local cases = { { 2, 64, 37, 41, 16, 2, 1 }, { 1, 8, 9, 7, 8, 1, 0 }, { 3, 16, 20, 19, 24, 1, 2 },
      { 2, 64, 37, 41, 16, 1, 1, 2 }, { 1, 16, 9, 12, 8, 2, 0, { 2, 1 } }, -- these two strided
      -- channels per group not a multiple of 8 (padded blocks), small images
      { 4, 10, 12, 12, 20, 1, 0 }, { 3, 3, 11, 9, 10, 1, 1 }, { 2, 4, 7, 6, 12, 2, 2 }, { 2, 10, 6, 6, 13, 1, 1 },
      -- at most 64 output positions: the columns of several samples side by side (chunks of samples)
      { 5, 16, 7, 7, 24, 2, 1 }, { 3, 8, 9, 9, 16, 1, 1, 2 }, { 70, 4, 5, 6, 8, 1, 1 } }
    for _, c in ipairs(cases) do
      local x64 = torch.randn(c[1], c[2], c[3], c[4], { dtype = 'float64' })
      local w64 = torch.randn(c[5], c[2] // c[6], 3, 3, { dtype = 'float64' }) * 0.2
      local b64 = torch.randn(c[5], { dtype = 'float64' })
      local opts = { groups = c[6], padding = c[7], stride = c[8] }
      local x, w, b = x64:float():requires_grad_(), w64:float():requires_grad_(), b64:float():requires_grad_()
      local xd, wd, bd = x64:requires_grad_(), w64:requires_grad_(), b64:requires_grad_()
      local y, yd = torch.conv2d(x, w, b, opts), torch.conv2d(xd, wd, bd, opts)
      H.assert_close(y, yd:float(), TOL)
      local g = torch.randn(yd:size(), { dtype = 'float64' })
      y:backward(g:float())
      yd:backward(g)
      H.assert_close(x.grad, xd.grad:float(), TOL)
      H.assert_close(w.grad, wd.grad:float(), { rtol = 1e-4, atol = 1e-4 })
      H.assert_close(b.grad, bd.grad:float(), { rtol = 1e-4, atol = 1e-4 })
    end
  end)
end)

describe('conv gradcheck (float64)', function()
  local gradcheck = torch.autograd.gradcheck
  local function d(...) return torch.randn(...):double():requires_grad_() end
  local cases = {
    { 'conv1d', { 2, 2, 6 }, { 3, 2, 3 }, 3, { stride = 2, padding = 1, groups = 1, dilation = 1 } },
    { 'conv1d', { 1, 4, 7 }, { 2, 2, 2 }, 2, { padding = 'same', groups = 2, dilation = 2 } },
    { 'conv2d', { 2, 2, 5, 4 }, { 2, 2, 3, 2 }, 2, { stride = { 2, 1 }, padding = { 1, 0 }, dilation = { 1, 2 } } },
    { 'conv2d', { 1, 4, 4, 4 }, { 4, 1, 3, 3 }, 4, { groups = 4, padding = 'same' } },
    { 'conv3d', { 1, 2, 3, 4, 3 }, { 2, 2, 2, 2, 2 }, 2, { padding = { 1, 0, 1 } } },
    { 'conv_transpose1d', { 2, 2, 4 }, { 2, 3, 3 }, 3, { stride = 2, output_padding = 1, padding = 1 } },
    { 'conv_transpose2d', { 1, 4, 3, 3 }, { 4, 1, 2, 3 }, 2, { stride = { 2, 1 }, groups = 2, dilation = { 1, 2 },
      output_padding = { 1, 0 } } },
  }
  for i, c in ipairs(cases) do
    it(('%s case %d'):format(c[1], i), function()
      local x, w, b = d(table.unpack(c[2])), d(table.unpack(c[3])), d(c[4])
      local ok, err = pcall(gradcheck, function(a, bb, cc) return torch[c[1]](a, bb, cc, c[5]) end, { x, w, b },
        { atol = 1e-6, rtol = 1e-4 })
      assert(ok and err ~= false, tostring(err))
    end)
  end

  -- second order: the backward under create_graph is made of convolutions again
  local gg = {
    cases[1], cases[2], cases[3], cases[4], cases[6], cases[7],
    { 'conv2d', { 1, 2, 5, 4 }, { 2, 2, 2, 2 }, 2, { padding = 'same' } }, -- asymmetric padding
  }
  for i, c in ipairs(gg) do
    it(('%s: gradgradcheck %d'):format(c[1], i), function()
      local x, w, b = d(table.unpack(c[2])), d(table.unpack(c[3])), d(c[4])
      local ok, err = pcall(torch.autograd.gradgradcheck, function(a, bb, cc) return torch[c[1]](a, bb, cc, c[5]) end,
        { x, w, b }, { atol = 1e-5, rtol = 1e-3 })
      assert(ok and err ~= false, tostring(err))
    end)
  end

  it('a gradient penalty: d/dw of |dy/dx|^2 matches finite differences', function()
    local x, w = d(1, 1, 4, 4), d(1, 1, 3, 3)
    local function penalty(wt)
      local y = torch.conv2d(x, wt):tanh():sum()
      local gx = torch.autograd.grad({ y }, { x }, { create_graph = true })
      return ((gx[1] or gx) ^ 2):sum()
    end
    local gw = torch.autograd.grad({ penalty(w) }, { w })
    gw = gw[1] or gw
    local eps, wd = 1e-6, w:detach()
    local gflat = gw:reshape(-1)
    for k = 1, 9 do
      local wp, wm = wd:clone(), wd:clone()
      wp:view(-1)[k] = wd:view(-1)[k] + eps
      wm:view(-1)[k] = wd:view(-1)[k] - eps
      local num = (penalty(wp):item() - penalty(wm):item()) / (2 * eps)
      assert(math.abs(num - gflat[k]) < 1e-5 * math.max(1, math.abs(num)), k)
    end
  end)
end)

describe('conv errors', function()
  local x, w = torch.randn(64, 1, 28, 28), torch.randn(16, 3, 5, 5)
  it('names the op, the expected input shape, the weight and the input', function()
    H.assert_error(function() torch.conv2d(x, w) end,
      'conv2d: expected input of shape (N, 3, H, W) to match weight 16x3x5x5, got 64x1x28x28')
    H.assert_error(function() torch.conv1d(torch.randn(2, 4, 9), torch.randn(3, 2, 3)) end,
      'conv1d: expected input of shape (N, 2, L) to match weight 3x2x3, got 2x4x9')
    H.assert_error(function() torch.conv_transpose2d(torch.randn(1, 3, 4, 4), torch.randn(4, 2, 3, 3)) end,
      'conv_transpose2d: expected input of shape (N, 4, H, W) to match weight 4x2x3x3, got 1x3x4x4')
  end)
  it('checks ranks, bias, dtypes and sizes', function()
    H.assert_error(function() torch.conv2d(torch.randn(2, 3), torch.randn(1, 3, 1, 1)) end,
      'conv2d: expected a 3-d (unbatched) or 4-d (batched) input, got 2x3')
    H.assert_error(function() torch.conv2d(torch.randn(1, 3, 4, 4), torch.randn(3, 3, 3)) end,
      'conv2d: expected a 4-d weight')
    H.assert_error(function() torch.conv2d(torch.randn(1, 3, 4, 4), torch.randn(2, 3, 3, 3), torch.randn(3)) end,
      'conv2d: expected bias of shape (2), got 3')
    H.assert_error(function() torch.conv2d(torch.randn(1, 3, 4, 4), torch.randn(2, 3, 3, 3):double()) end,
      'conv2d: input (float32) and weight (float64) must have the same dtype')
    H.assert_error(function() torch.conv2d(torch.zeros(1, 3, 4, 4, { dtype = 'int64' }), torch.zeros(2, 3, 3, 3,
      { dtype = 'int64' })) end, 'conv2d: expected a float32 or float64 input, got int64')
    H.assert_error(function() torch.conv2d(torch.randn(1, 3, 2, 2), torch.randn(2, 3, 3, 3)) end,
      'is smaller than the dilated kernel size 3')
  end)
  it('checks options', function()
    local a, b = torch.randn(1, 4, 6, 6), torch.randn(4, 2, 3, 3)
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 2, stride = 0 }) end,
      'conv2d: stride must be positive, got 0')
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 2, padding = -1 }) end, 'negative padding')
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 0 }) end, 'groups must be positive')
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 3 }) end, 'to match weight 4x2x3x3')
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 2, padding = 'same', stride = 2 }) end,
      "padding='same' is not supported for strided convolutions")
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 2, padding = 'full' }) end,
      "invalid padding string 'full'")
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 2, stride = { 1, 2, 3 } }) end,
      "option 'stride' must have 1 or 2 entries, got 3")
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 2, strides = 2 }) end,
      "conv2d: unknown option 'strides'")
    H.assert_error(function() torch.conv2d(a, b, nil, { groups = 1.5 }) end, "option 'groups' must be an integer")
    H.assert_error(function() torch.conv_transpose2d(a, torch.randn(4, 2, 3, 3), nil,
      { stride = 2, output_padding = 2 }) end, 'output padding must be smaller than either stride or dilation')
    H.assert_error(function() torch.conv2d(a, b, 'x') end, 'bad argument #3')
  end)
end)

describe('conv edge cases', function()
  it('huge options are refused, empty batches give empty results', function()
    local a, b = torch.randn(1, 2, 5, 5), torch.randn(8, 2, 3, 3)
    H.assert_error(function() torch.conv2d(a, b, nil, { padding = 1 << 40 }) end, 'must be below 2^31')
    H.assert_error(function() torch.conv2d(a, b, nil, { dilation = 1 << 40 }) end, 'must be below 2^31')
    local y = torch.conv2d(torch.randn(0, 2, 5, 5), b, nil, { padding = 1 })
    assert.are.same({ 0, 8, 5, 5 }, { y:size(1), y:size(2), y:size(3), y:size(4) })
    local x = torch.randn(0, 2, 5, 5):requires_grad_()
    local w = b:clone():requires_grad_()
    torch.conv2d(x, w, nil, { padding = 1 }):sum():backward()
    H.assert_close(w.grad, torch.zeros(8, 2, 3, 3))
  end)
end)
