-- nn.functional upsampling: F.interpolate (nearest, nearest-exact, linear,
-- bilinear, bicubic, trilinear, area) over (N, C, L), (N, C, H, W) or
-- (N, C, D, H, W) inputs, its aliases, and pixel (un)shuffle. Arguments follow
-- PyTorch, positionally or as a trailing options table:
--   F.interpolate(x, {scale_factor=2, mode='bilinear', align_corners=false})
--   F.interpolate(x, {size={8, 8}, mode='bicubic'}), F.interpolate(x, 16)
-- Output sizes from scale_factor are floor(in * scale_factor); the kernels then
-- use 1 / scale_factor for the source coordinates (as PyTorch) unless
-- recompute_scale_factor=true or align_corners=true.
local torch = require 'torch'

local F = {}

local NAMES = { 'size', 'scale_factor', 'mode', 'align_corners', 'recompute_scale_factor', 'antialias' }
-- spatial dims each mode works on (nil: any of 1, 2, 3)
local MODE_DIMS = { nearest = false, ['nearest-exact'] = false, area = false, linear = 1, bilinear = 2,
  bicubic = 2, trilinear = 3 }
local MODE_LIST = "'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area'"

-- Splits (...) into named values: positional ones in order of names, then a
-- trailing options table (a plain table with no list part).
local function args(fname, names, ...)
  local n, pos = select('#', ...), { ... }
  local o = {}
  local last = pos[n]
  if n > 0 and type(last) == 'table' and getmetatable(last) == nil and #last == 0 and next(last) ~= nil then
    n = n - 1
    local known = {}
    for _, k in ipairs(names) do known[k] = true end
    for k, v in pairs(last) do
      if not known[k] then error(('%s: unknown option \'%s\'%s'):format(fname, tostring(k), torch._did_you_mean(k, names)), 3) end
      o[k] = v
    end
  end
  if n > #names then error(('%s: expected at most %d arguments after the input, got %d'):format(fname, #names, n), 3) end
  for i = 1, n do
    if pos[i] ~= nil then
      if o[names[i]] ~= nil then error(fname .. ': ' .. names[i] .. ' given twice', 3) end
      o[names[i]] = pos[i]
    end
  end
  return o
end

local function shape_str(x)
  return x:dim() .. '-D (' .. table.concat(x:size(), 'x') .. ')'
end

local function check_tensor(fname, x, lvl)
  if not torch.isTensor(x) then error(('%s: expected a tensor input, got %s'):format(fname, torch.type(x)), lvl + 1) end
end

local function value_str(v)
  if type(v) ~= 'table' or torch.isTensor(v) then return tostring(v) end
  local s = {}
  for k = 1, #v do s[k] = tostring(v[k]) end
  return '{' .. table.concat(s, ', ') .. '}'
end

-- v: a number or a list of n numbers -> a list of n values, each checked by ok
local function per_dim(fname, what, v, n, ok, kind, x)
  local t = {}
  if type(v) == 'table' and not torch.isTensor(v) then
    if #v ~= n then
      error(('%s: %s must have %d entries (one per spatial dim of the %s input), got %d'):format(fname, what, n,
        shape_str(x), #v), 4)
    end
    for i = 1, n do t[i] = v[i] end
  else
    for i = 1, n do t[i] = v end
  end
  for i = 1, n do
    if not ok(t[i]) then
      error(('%s: %s must be %s or a table of %d of them, got %s'):format(fname, what, kind, n,
        value_str(v)), 4)
    end
  end
  return t
end

local function is_size(v) return math.type(v) == 'integer' end
local function is_scale(v) return type(v) == 'number' and v > 0 and v < math.huge end

-- The work of F.interpolate, errors named fname ('interpolate', 'Upsample', ...).
function F._interpolate(fname, x, o)
  check_tensor(fname, x, 2)
  local mode = o.mode == nil and 'nearest' or o.mode
  if type(mode) ~= 'string' or MODE_DIMS[mode] == nil then
    error(('%s: mode must be one of %s, got %s'):format(fname, MODE_LIST,
      type(mode) == 'string' and "'" .. mode .. "'" or tostring(mode)), 3)
  end
  local nearest = mode == 'nearest' or mode == 'nearest-exact' or mode == 'area'
  local align = o.align_corners
  if nearest and align ~= nil then
    error(('%s: align_corners can only be set with the interpolating modes (linear, bilinear, bicubic, ' ..
      'trilinear), got mode \'%s\''):format(fname, mode), 3)
  end
  if align ~= nil and type(align) ~= 'boolean' then
    error(('%s: align_corners must be a boolean, got %s'):format(fname, type(align)), 3)
  end
  if o.antialias then
    error(('%s: antialias=true is not supported'):format(fname), 3)
  end
  local d = x:dim()
  if d < 3 or d > 5 then
    error(('%s: expected 3-D, 4-D or 5-D input (N, C, spatial...), got %s'):format(fname, shape_str(x)), 3)
  end
  local nsp = d - 2
  if MODE_DIMS[mode] and MODE_DIMS[mode] ~= nsp then
    local want = MODE_DIMS[mode] + 2
    error(('%s: mode \'%s\' expects a %d-D input (N, C, %s), got %s'):format(fname, mode, want,
      ({ 'L', 'H, W', 'D, H, W' })[MODE_DIMS[mode]], shape_str(x)), 3)
  end
  if o.size ~= nil and o.scale_factor ~= nil then
    error(('%s: only one of size and scale_factor may be given'):format(fname), 3)
  end
  if o.size == nil and o.scale_factor == nil then
    error(('%s: either size or scale_factor must be given'):format(fname), 3)
  end
  local recompute = o.recompute_scale_factor
  if recompute and o.size ~= nil then
    error(('%s: recompute_scale_factor is not meaningful with an explicit size'):format(fname), 3)
  end
  local sizes, scales
  if o.size ~= nil then
    sizes = per_dim(fname, 'size', o.size, nsp, is_size, 'an integer', x)
  else
    scales = per_dim(fname, 'scale_factor', o.scale_factor, nsp, is_scale, 'a positive number', x)
    sizes = {}
    for i = 1, nsp do sizes[i] = math.floor(x:size(i + 2) * scales[i]) end
    if recompute or mode == 'area' then scales = nil end
  end
  for i = 1, nsp do
    if sizes[i] <= 0 or x:size(i + 2) <= 0 then
      error(('%s: input and output sizes must be greater than 0, got input %s and output size %s'):format(fname,
        shape_str(x), table.concat(sizes, 'x')), 3)
    end
  end
  if mode == 'area' then
    if nsp == 3 then error(('%s: mode \'area\' is not supported for 5-D input'):format(fname), 3) end
    return nsp == 1 and torch.adaptive_avg_pool1d(x, sizes[1]) or torch.adaptive_avg_pool2d(x, sizes)
  end
  return torch.upsample(x, mode, sizes, { align_corners = align or false, scales = scales })
end

-- F.interpolate(input, size, scale_factor, mode='nearest', align_corners, recompute_scale_factor, antialias=false)
function F.interpolate(x, ...)
  return F._interpolate('interpolate', x, args('interpolate', NAMES, ...))
end

-- F.upsample: PyTorch's older name for interpolate
function F.upsample(x, ...)
  return F._interpolate('upsample', x, args('upsample', NAMES, ...))
end

function F.upsample_nearest(x, ...)
  local o = args('upsample_nearest', { 'size', 'scale_factor' }, ...)
  o.mode = 'nearest'
  return F._interpolate('upsample_nearest', x, o)
end

-- bilinear with align_corners=true, as PyTorch's upsample_bilinear
function F.upsample_bilinear(x, ...)
  local o = args('upsample_bilinear', { 'size', 'scale_factor' }, ...)
  o.mode, o.align_corners = 'bilinear', true
  return F._interpolate('upsample_bilinear', x, o)
end

local function check_factor(fname, what, r)
  if math.type(r) ~= 'integer' or r <= 0 then
    error(('%s: %s must be a positive integer, got %s'):format(fname, what, tostring(r)), 3)
  end
end

-- (*, C * r^2, H, W) -> (*, C, H * r, W * r)
function F.pixel_shuffle(x, r)
  local fname = 'pixel_shuffle'
  check_tensor(fname, x, 2)
  check_factor(fname, 'upscale_factor', r)
  local d = x:dim()
  if d < 3 then error(('%s: expected an input of at least 3 dims (*, C, H, W), got %s'):format(fname, shape_str(x)), 2) end
  local s = x:size()
  local c, h, w = s[d - 2], s[d - 1], s[d]
  if c % (r * r) ~= 0 then
    error(('%s: expected the channel dim (size %d of input %s) to be divisible by upscale_factor^2 = %d'):format(
      fname, c, shape_str(x), r * r), 2)
  end
  local lead, split, perm, out = {}, {}, {}, {}
  for i = 1, d - 3 do lead[i] = s[i]; perm[i] = i end
  local b = #lead
  for i = 1, b do split[i], out[i] = lead[i], lead[i] end
  -- (*, oc, r, r, H, W) -> (*, oc, H, r, W, r)
  local oc = c // (r * r)
  for _, v in ipairs { oc, r, r, h, w } do split[#split + 1] = v end
  for _, v in ipairs { 1, 4, 2, 5, 3 } do perm[#perm + 1] = b + v end
  for _, v in ipairs { oc, h * r, w * r } do out[#out + 1] = v end
  return x:reshape(split):permute(perm):reshape(out)
end

-- (*, C, H * r, W * r) -> (*, C * r^2, H, W)
function F.pixel_unshuffle(x, r)
  local fname = 'pixel_unshuffle'
  check_tensor(fname, x, 2)
  check_factor(fname, 'downscale_factor', r)
  local d = x:dim()
  if d < 3 then error(('%s: expected an input of at least 3 dims (*, C, H, W), got %s'):format(fname, shape_str(x)), 2) end
  local s = x:size()
  local c, h, w = s[d - 2], s[d - 1], s[d]
  if h % r ~= 0 or w % r ~= 0 then
    error(('%s: expected height and width (%dx%d of input %s) to be divisible by downscale_factor %d'):format(
      fname, h, w, shape_str(x), r), 2)
  end
  local split, perm, out = {}, {}, {}
  for i = 1, d - 3 do split[i], perm[i], out[i] = s[i], i, s[i] end
  local b = d - 3
  -- (*, C, oh, r, ow, r) -> (*, C, r, r, oh, ow)
  local oh, ow = h // r, w // r
  for _, v in ipairs { c, oh, r, ow, r } do split[#split + 1] = v end
  for _, v in ipairs { 1, 3, 5, 2, 4 } do perm[#perm + 1] = b + v end
  for _, v in ipairs { c * r * r, oh, ow } do out[#out + 1] = v end
  return x:reshape(split):permute(perm):reshape(out)
end

return F
