-- F.unfold / F.fold / F.grid_sample / F.affine_grid and nn.Unfold / nn.Fold
-- against PyTorch fixtures (scripts/fixtures/gen_nn_vision.py): outputs and
-- gradients for every mode x padding_mode x align_corners, contiguous and not;
-- gradcheck in float64; double backward through unfold/fold; errors.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local fx = H.fixture('nn_vision')
local RTOL = { rtol = 1e-4, atol = 1e-5 }

local function opts_str(o)
  local kv = {}
  for k, v in pairs(o) do kv[#kv + 1] = k .. '=' .. (type(v) == 'table' and table.concat(v, 'x') or tostring(v)) end
  table.sort(kv)
  return '{' .. table.concat(kv, ', ') .. '}'
end

local function size_str(v) return type(v) == 'table' and table.concat(v, 'x') or tostring(v) end

local function layouts(t, layout)
  t = H.tensor(t)
  if layout == 'non-contiguous' then t = H.noncontig(t) end
  return t:requires_grad_()
end

describe('nn.functional vision', function()
  before_each(function() torch.set_grad_enabled(true) end)

  for _, layout in ipairs { 'contiguous', 'non-contiguous' } do
    for k, c in ipairs(fx.unfold) do
      it(('unfold %d: %s k=%s %s, %s'):format(k, size_str(c.x.shape), size_str(c.kernel_size), opts_str(c.opts),
        layout), function()
        local x = layouts(c.x, layout)
        local out = F.unfold(x, c.kernel_size, c.opts)
        H.assert_close(out, c.out)
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx, RTOL)
      end)
    end
    for k, c in ipairs(fx.fold) do
      it(('fold %d: %s -> %s k=%s %s, %s'):format(k, size_str(c.x.shape), size_str(c.output_size),
        size_str(c.kernel_size), opts_str(c.opts), layout), function()
        local x = layouts(c.x, layout)
        local out = F.fold(x, c.output_size, c.kernel_size, c.opts)
        H.assert_close(out, c.out, RTOL)
        out:backward(H.tensor(c.g))
        H.assert_close(x.grad, c.gx)
      end)
    end
    for _, set in ipairs { 'grid2', 'grid3' } do
      for k, c in ipairs(fx[set]) do
        it(('grid_sample %s %d: %s, %s'):format(set, k, opts_str(c.opts), layout), function()
          local x, grid = layouts(c.x, layout), layouts(c.grid, layout)
          local out = F.grid_sample(x, grid, c.opts)
          H.assert_close(out, c.out, RTOL)
          out:backward(H.tensor(c.g))
          H.assert_close(x.grad, c.gx, RTOL)
          H.assert_close(grid.grad, c.ggrid, { rtol = 1e-4, atol = 1e-4 })
        end)
      end
    end
  end

  it('grid_sample nearest rounds half to even', function()
    local t = fx.ties
    local x, grid = H.tensor(t.x), H.tensor(t.grid)
    H.assert_close(F.grid_sample(x, grid, { mode = 'nearest' }), t.zeros)
    H.assert_close(F.grid_sample(x, grid, 'nearest', 'border'), t.border)
  end)

  it('grid_sample: huge grid values follow PyTorch, non-finite ones do not crash', function()
    local x = torch.arange(1, 7, { dtype = 'float32' }):reshape(1, 1, 2, 3)
    local g = torch.tensor({ { { { 1e30, -1e30 }, { -1e30, 1e30 } } } }, { dtype = 'float32' })
    -- PyTorch 1.13. (Reflection of 1e30 is left out: PyTorch's vectorised 2-d kernel
    -- reflects with trunc(|x| / span) * span, which loses all precision there.)
    local want = { zeros = { 0, 0 }, border = { 3, 4 } }
    for pad, w in pairs(want) do
      for _, mode in ipairs { 'bilinear', 'nearest', 'bicubic' } do
        local y = F.grid_sample(x, g, { mode = mode, padding_mode = pad })
        H.assert_close(y:reshape(-1), torch.tensor(w, { dtype = 'float32' }))
      end
    end
    local bad = torch.tensor({ { { { 1 / 0, 0 }, { 0 / 0, -1 / 0 } } } }, { dtype = 'float32' })
    for _, pad in ipairs { 'zeros', 'border', 'reflection' } do
      for _, mode in ipairs { 'bilinear', 'nearest', 'bicubic' } do
        local xx, gg = x:clone():requires_grad_(), bad:clone():requires_grad_()
        F.grid_sample(xx, gg, { mode = mode, padding_mode = pad }):sum():backward()
      end
    end
  end)

  for k, c in ipairs(fx.affine) do
    it(('affine_grid %d: size %s align_corners=%s'):format(k, size_str(c.size), tostring(c.align_corners)), function()
      local theta = H.tensor(c.theta):requires_grad_()
      local out = F.affine_grid(theta, c.size, { align_corners = c.align_corners })
      H.assert_close(out, c.out)
      out:backward(H.tensor(c.g))
      H.assert_close(theta.grad, c.gtheta, RTOL)
    end)
  end

  it('affine_grid then grid_sample with the identity reproduces the input', function()
    local x = torch.randn(2, 3, 4, 5)
    local theta = torch.tensor({ { 1, 0, 0 }, { 0, 1, 0 } }, { dtype = 'float32' }):reshape(1, 2, 3):expand(2, 2, 3)
    for _, ac in ipairs { false, true } do
      local grid = F.affine_grid(theta, { 2, 3, 4, 5 }, ac)
      H.assert_close(F.grid_sample(x, grid, { align_corners = ac }), x, { rtol = 1e-5, atol = 1e-5 })
    end
  end)

  it('passes gradcheck in float64', function()
    local gc = torch.autograd.gradcheck
    local function r(shape, scale)
      return (torch.rand(shape, { dtype = 'float64' }) * (scale or 1)):requires_grad_()
    end
    local uopts = { dilation = { 1, 2 }, padding = 1, stride = { 2, 1 } }
    assert.is_true(gc(function(x) return F.unfold(x, { 2, 3 }, uopts) end, { r { 2, 2, 5, 6 } }))
    assert.is_true(gc(function(x) return F.fold(x, { 5, 6 }, 2, { padding = 1, stride = 2 }) end, { r { 2, 8, 12 } }))
    for _, mode in ipairs { 'bilinear', 'bicubic' } do
      for _, pad in ipairs { 'zeros', 'border', 'reflection' } do
        for _, ac in ipairs { false, true } do
          local grid = ((torch.rand({ 1, 3, 2, 2 }, { dtype = 'float64' }) - 0.5) * 3):requires_grad_()
          assert.is_true(gc(function(x, g)
            return F.grid_sample(x, g, { mode = mode, padding_mode = pad, align_corners = ac })
          end, { r { 1, 2, 3, 4 }, grid }, { atol = 1e-5, rtol = 1e-3 }), mode .. ' ' .. pad)
        end
      end
    end
    for _, pad in ipairs { 'zeros', 'border', 'reflection' } do
      local grid = ((torch.rand({ 1, 2, 2, 1, 3 }, { dtype = 'float64' }) - 0.5) * 3):requires_grad_()
      assert.is_true(gc(function(x, g) return F.grid_sample(x, g, { padding_mode = pad }) end,
        { r { 1, 2, 2, 3, 3 }, grid }, { atol = 1e-5, rtol = 1e-3 }), '3-d ' .. pad)
    end
    assert.is_true(gc(function(t) return F.affine_grid(t, { 2, 1, 3, 4 }) end, { r { 2, 2, 3 } }))
    assert.is_true(gc(function(t) return F.affine_grid(t, { 1, 1, 2, 3, 2 }, true) end, { r { 1, 3, 4 } }))
  end)

  it('double backward works through unfold and fold', function()
    local x = torch.randn({ 1, 2, 4, 4 }, { dtype = 'float64', requires_grad = true })
    local y = F.unfold(x, 2, { padding = 1 })
    local g = torch.autograd.grad(y:pow(2):sum(), { x }, { create_graph = true })[1]
    local gg = torch.autograd.grad(g:sum(), { x })[1]
    -- d/dx sum(fold(2 * unfold(x))) = fold(2 * unfold(1)): each pixel times the windows covering it
    local cover = F.fold(F.unfold(torch.ones(1, 2, 4, 4, { dtype = 'float64' }), 2, { padding = 1 }), { 4, 4 }, 2,
      { padding = 1 })
    H.assert_close(gg, cover * 2)
    assert.is_true(torch.autograd.gradgradcheck(function(t) return F.fold(t, { 3, 3 }, 2) end,
      { torch.rand({ 1, 4, 4 }, { dtype = 'float64', requires_grad = true }) }))
  end)

  it('grid_sample refuses create_graph with a clear error', function()
    local x = torch.randn({ 1, 1, 3, 3 }, { requires_grad = true })
    local grid = torch.zeros(1, 2, 2, 2)
    local y = F.grid_sample(x, grid):sum()
    H.assert_error(function() torch.autograd.grad(y, { x }, { create_graph = true }) end,
      'grid_sample: double backward (create_graph=true) is not supported')
  end)

  it('nn.Unfold and nn.Fold', function()
    local x = torch.randn(2, 3, 5, 6)
    local u = nn.Unfold({ 2, 3 }, { padding = 1, stride = 2 })
    assert.equal('Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=2)', tostring(u))
    local cols = u:forward(x)
    H.assert_close(cols, F.unfold(x, { 2, 3 }, { padding = 1, stride = 2 }))
    local f = nn.Fold({ 5, 6 }, { 2, 3 }, { padding = 1, stride = 2 })
    assert.equal('Fold(output_size=(5, 6), kernel_size=(2, 3), dilation=1, padding=1, stride=2)', tostring(f))
    H.assert_close(f:forward(cols), F.fold(cols, { 5, 6 }, { 2, 3 }, { padding = 1, stride = 2 }))
    -- non-overlapping windows: fold(unfold(x)) == x
    local x4 = x[{ {}, {}, { 1, 4 }, { 1, 4 } }]
    H.assert_close(nn.Fold(4, 2, { stride = 2 }):forward(nn.Unfold(2, 1, 0, 2):forward(x4)), x4)
  end)

  it('reports errors clearly', function()
    H.assert_error(function() F.unfold(torch.randn(2, 3), 2) end,
      'unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got 2-D (2x3)')
    H.assert_error(function() F.unfold(torch.randn(1, 1, 2, 2), 3) end,
      'calculated shape of the array of sliding blocks as (0, 0), but its components must be at least one')
    H.assert_error(function() F.unfold(torch.randn(1, 1, 4, 4), 2, { stride = 0 }) end,
      'unfold: stride must be positive, got 0')
    H.assert_error(function() F.unfold(torch.randn(1, 1, 4, 4), { 1, 2, 3 }) end,
      'kernel_size must be an integer or a table of 2 integers, got a table of 3')
    H.assert_error(function() F.unfold(torch.zeros(1, 1, 4, 4, { dtype = 'int64' }), 2) end,
      'unfold: expected a float32 or float64 input, got int64')
    H.assert_error(function() F.fold(torch.randn(1, 4, 10), { 4, 4 }, 2) end,
      'fold: given output_size=(4, 4), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), stride=(1, 1), '
      .. "expected size of input's dimension 3 to match the calculated number of sliding blocks 3 * 3 = 9, but "
      .. 'got input.size(3)=10')
    H.assert_error(function() F.fold(torch.randn(1, 5, 9), { 4, 4 }, 2) end,
      "expected size of input's dimension 2 to be divisible by the product of kernel_size, but got "
      .. 'input.size(2)=5 and kernel_size=(2, 2)')
    H.assert_error(function() F.fold(torch.randn(4), { 4, 4 }, 2) end,
      'fold: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input, got 1-D (4)')
    H.assert_error(function() F.fold(torch.randn(1, 4, 9), nil, 2) end, 'fold: output_size is required')
    local x, grid = torch.randn(1, 2, 3, 3), torch.zeros(1, 2, 2, 2)
    H.assert_error(function() F.grid_sample(torch.randn(2, 3, 3), grid) end,
      'grid_sample: expected a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, got 3-D (2x3x3)')
    H.assert_error(function() F.grid_sample(x, torch.zeros(1, 2, 2)) end,
      'grid_sample: expected a 4-D grid for a 4-D input, got 3-D grid (1x2x2)')
    H.assert_error(function() F.grid_sample(x, torch.zeros(1, 2, 2, 3)) end,
      'grid_sample: expected grid to have size 2 in its last dimension for a 4-D input, got grid (1x2x2x3)')
    H.assert_error(function() F.grid_sample(x, torch.zeros(2, 2, 2, 2)) end,
      'grid_sample: expected grid and input to have the same batch size, got input (1x2x3x3) and grid (2x2x2x2)')
    H.assert_error(function() F.grid_sample(torch.randn(1, 1, 2, 2, 2), torch.zeros(1, 1, 1, 1, 3), 'bicubic') end,
      'grid_sample: bicubic interpolation only supports 4-D input, got 5-D (1x1x2x2x2)')
    H.assert_error(function() F.grid_sample(x, grid, { mode = 'linear' }) end,
      "grid_sample: mode must be 'bilinear', 'nearest' or 'bicubic', got 'linear'")
    H.assert_error(function() F.grid_sample(x, grid, { padding_mode = 'circular' }) end,
      "grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got 'circular'")
    H.assert_error(function() F.grid_sample(x, grid:double()) end,
      'grid_sample: expected grid of the input\'s dtype float32, got float64')
    H.assert_error(function() F.grid_sample(x, grid, { bogus = 1 }) end, 'grid_sample: unknown option \'bogus\'')
    H.assert_error(function() F.affine_grid(torch.randn(1, 2, 3), { 1, 1, 4 }) end,
      'affine_grid: only supports 4-D and 5-D sizes, for 2-D and 3-D affine transforms, got size {1, 1, 4}')
    H.assert_error(function() F.affine_grid(torch.randn(1, 3, 4), { 1, 1, 4, 4 }) end,
      'affine_grid: expected a batch of 2-D affine matrices of shape 1x2x3 for size {1, 1, 4, 4}, got 1x3x4')
    H.assert_error(function() F.affine_grid(torch.randn(2, 3, 4), { 1, 1, 2, 4, 4 }) end,
      'expected a batch of 3-D affine matrices of shape 1x3x4')
    H.assert_error(function() F.affine_grid(torch.randn(1, 2, 3), { 1, 1, 0, 4 }) end,
      'affine_grid: expected non-zero, positive output size, got {1, 1, 0, 4}')
    H.assert_error(function() F.affine_grid(torch.zeros(1, 2, 3, { dtype = 'int64' }), { 1, 1, 2, 4 }) end,
      'affine_grid: expected theta of a floating point type, got int64')
  end)
end)
