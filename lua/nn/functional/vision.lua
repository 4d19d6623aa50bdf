-- nn.functional vision helpers:
--   F.unfold(input, kernel_size, {dilation=1, padding=0, stride=1})
--     (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L) or (C*kh*kw, L): every kernel window
--     as a column, rows ordered (channel, kernel row, kernel column) as in PyTorch.
--   F.fold(input, output_size, kernel_size, {dilation=1, padding=0, stride=1})
--     the adjoint of unfold: columns summed back into (N, C, oh, ow) images.
--   F.grid_sample(input, grid, {mode='bilinear', padding_mode='zeros', align_corners=false})
--   F.affine_grid(theta, size, {align_corners=false})
-- Sizes are an integer or a table of two. Arguments are positional or a trailing
-- options table. unfold/fold/grid_sample are C kernels (core/fold.c,
-- core/grid_sample.c); affine_grid is composed of tensor ops (differentiable in theta).
local torch = require 'torch'
local nn = require 'nn'
require 'nn.module'

local args = nn._args
local F = {}

local function check_tensor(fname, what, x)
  if not torch.is_tensor(x) then error(('%s: expected a tensor %s, got %s'):format(fname, what, type(x)), 3) end
end

local FOLD_OPTS = { dilation = 1, padding = 0, stride = 1 }

function F.unfold(input, ...)
  check_tensor('unfold', 'input', input)
  local a = args('unfold', { 'kernel_size', 'dilation', 'padding', 'stride' }, FOLD_OPTS, ...)
  return torch.im2col(input, a.kernel_size, { dilation = a.dilation, padding = a.padding, stride = a.stride })
end

function F.fold(input, ...)
  check_tensor('fold', 'input', input)
  local a = args('fold', { 'output_size', 'kernel_size', 'dilation', 'padding', 'stride' }, FOLD_OPTS, ...)
  return torch.col2im(input, a.output_size, a.kernel_size,
    { dilation = a.dilation, padding = a.padding, stride = a.stride })
end

function F.grid_sample(input, grid, ...)
  check_tensor('grid_sample', 'input', input)
  check_tensor('grid_sample', 'grid', grid)
  local a = args('grid_sample', { 'mode', 'padding_mode', 'align_corners' },
    { mode = 'bilinear', padding_mode = 'zeros', align_corners = false }, ...)
  return torch.grid_sample(input, grid, a)
end

-- -1 .. 1 in n steps (the pixel centres when not align_corners); 0 for n == 1
local function coords(n, align_corners, dtype)
  if n <= 1 then return torch.zeros(n, { dtype = dtype }) end
  local r = torch.linspace(-1, 1, n, { dtype = dtype })
  if not align_corners then r = r * ((n - 1) / n) end
  return r
end

local function size_str(size)
  local p = {}
  for i, v in ipairs(size) do p[i] = tostring(v) end
  return '{' .. table.concat(p, ', ') .. '}'
end

-- theta (N, 2, 3) with size {N, C, H, W} -> grid (N, H, W, 2);
-- theta (N, 3, 4) with size {N, C, D, H, W} -> grid (N, D, H, W, 3).
function F.affine_grid(theta, size, ...)
  check_tensor('affine_grid', 'theta', theta)
  local a = args('affine_grid', { 'align_corners' }, { align_corners = false }, ...)
  if type(size) ~= 'table' or torch.is_tensor(size) then
    error('affine_grid: size must be a table {N, C, H, W} or {N, C, D, H, W}, got ' .. type(size), 2)
  end
  local sz = {}
  for i = 1, #size do
    if math.type(size[i]) ~= 'integer' then
      error(('affine_grid: size must hold integers, got %s at %d'):format(tostring(size[i]), i), 2)
    end
    sz[i] = size[i]
  end
  if #sz ~= 4 and #sz ~= 5 then
    error(('affine_grid: only supports 4-D and 5-D sizes, for 2-D and 3-D affine transforms, got size %s')
      :format(size_str(sz)), 2)
  end
  local dtype = theta.dtype
  if dtype ~= 'float32' and dtype ~= 'float64' then
    error('affine_grid: expected theta of a floating point type, got ' .. dtype, 2)
  end
  local nd = #sz - 2
  local rows, cols = nd, nd + 1
  local ts = theta:size()
  if theta:dim() ~= 3 or ts[2] ~= rows or ts[3] ~= cols or ts[1] ~= sz[1] then
    error(('affine_grid: expected a batch of %d-D affine matrices of shape %dx%dx%d for size %s, got %s')
      :format(nd, sz[1], rows, cols, size_str(sz), table.concat(ts, 'x')), 2)
  end
  for i = 1, #sz do
    if sz[i] <= 0 then error('affine_grid: expected non-zero, positive output size, got ' .. size_str(sz), 2) end
  end
  local n, sp = sz[1], { table.unpack(sz, 3) }
  -- base (sp..., nd + 1): x, y[, z], 1 along the last dim, x varying fastest
  local axes, shape = {}, {}
  for i = 1, nd do shape[i] = sp[i] end
  for d = 1, nd do -- d = 1 is x: the last spatial dim
    local view = {}
    for i = 1, nd do view[i] = 1 end
    view[nd + 1 - d] = sp[nd + 1 - d]
    axes[d] = coords(sp[nd + 1 - d], a.align_corners, dtype):reshape(table.unpack(view)):expand(table.unpack(shape))
  end
  axes[nd + 1] = torch.ones(shape, { dtype = dtype })
  local base = torch.stack(axes, nd + 1):reshape(1, -1, nd + 1):expand(n, -1, nd + 1)
  local grid = torch.bmm(base, theta:transpose(2, 3)) -- (N, prod(sp), nd)
  local out = { n }
  for i = 1, nd do out[i + 1] = sp[i] end
  out[nd + 2] = nd
  return grid:reshape(table.unpack(out))
end

return F
