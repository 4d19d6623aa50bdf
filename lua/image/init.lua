-- image: PNG files to and from tensors (libpng, core/png.c) and the image
-- operations torchvision's functional API offers, on tensors.
--
-- Images are tensors [..., H, W]: C×H×W for one image, N×C×H×W for a batch,
-- H×W for a plain gray image. Floating images hold values in [0, 1]; uint8
-- images hold 0..255 (integer results are rounded, as torchvision does).
-- Pixel positions are 1-based (row 1, column 1 is the top left pixel).
--
--   image.load(path, {channels=nil|1|2|3|4, dtype='float'|'byte'}) -> C×H×W
--   image.decode(bytes, opts), image.encode(t, opts) -> bytes of a PNG file
--   image.save(path, t, {bit_depth=8|16, compression=-1..9})
--   image.resize(img, size, {mode='bilinear'|'nearest'|'bicubic', max_size=})
--   image.scale(img, width, height [, mode]) / image.scale(img, size [, mode])
--   image.crop(img, top, left, height, width), image.center_crop(img, size)
--   image.hflip, image.vflip, image.rotate(img, degrees, {mode=, expand=, center=, fill=})
--   image.pad(img, padding, {fill=0, padding_mode='constant'|'edge'|'reflect'|'symmetric'})
--   image.rgb2gray(img, {num_output_channels=1}), image.make_grid(batch, {nrow=8, ...})
local torch = require 'torch'
local F = require 'nn.functional'
local atomic = require 'torch.atomic'

local image = {}
package.loaded['image'] = image -- image.transforms requires 'image'

-- ---- helpers ----

local function check_image(fname, img, min_dim)
  if not torch.isTensor(img) then
    error(('image.%s: expected an image tensor, got %s'):format(fname, torch.type(img)), 3)
  end
  if img:dim() < (min_dim or 2) then
    error(('image.%s: expected an image [..., H, W] (at least %d dims), got a %d-D tensor'):format(fname,
      min_dim or 2, img:dim()), 3)
  end
end

local function shape_str(t)
  return table.concat(t:size(), 'x')
end

-- Checks an options table against the known names (PyTorch's).
local function options(fname, o, known, lvl)
  if o == nil then return {} end
  if type(o) ~= 'table' or torch.isTensor(o) then
    error(('image.%s: expected an options table, got %s'):format(fname, torch.type(o)), (lvl or 2) + 1)
  end
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(o) do
    if not set[k] then
      error(('image.%s: unknown option \'%s\'%s'):format(fname, tostring(k), torch._did_you_mean(tostring(k), known)),
        (lvl or 2) + 1)
    end
  end
  return o
end
image._options = options

-- img [..., H, W] as a 4-D (N, C, H, W) tensor, and a function that gives a 4-D
-- result the original leading dims back.
local function as4d(img)
  local d = img:dim()
  local s = img:size()
  local h, w = s[d - 1], s[d]
  local x
  if d == 2 then x = img:reshape(1, 1, h, w)
  elseif d == 3 then x = img:reshape(1, s[1], h, w)
  elseif d == 4 then x = img
  else x = img:reshape(-1, s[d - 2], h, w) end
  return x, function(y)
    local ys = y:size()
    local out = {}
    for i = 1, d - 2 do out[i] = s[i] end
    out[d - 1], out[d] = ys[3], ys[4]
    return y:reshape(out)
  end
end

-- Integer images are computed in float32 and rounded back (torchvision's rule).
local function to_float(img)
  if img:is_floating_point() then return img, nil end
  return img:float(), img.dtype
end

local function from_float(x, dtype)
  if not dtype then return x end
  x = x:round()
  if dtype == 'uint8' then x = x:clamp(0, 255) end
  return x:to(dtype)
end

-- Python's round(): halves to even (torchvision's center_crop uses it).
local function round_half_even(v)
  local f = math.floor(v)
  local r = v - f
  if r > 0.5 or (r == 0.5 and f % 2 == 1) then f = f + 1 end
  return math.tointeger(f) or f
end

-- size as an integer or {h, w} -> h, w
local function hw(fname, size)
  if math.type(size) == 'integer' then return size, size end
  if type(size) == 'table' and not torch.isTensor(size) and (#size == 1 or #size == 2) then
    local h, w = size[1], size[2] or size[1]
    if math.type(h) == 'integer' and math.type(w) == 'integer' then return h, w end
  end
  error(('image.%s: size must be an integer or a table {height, width} of integers, got %s'):format(fname,
    torch.type(size)), 3)
end
image._hw = hw

-- ---- PNG files ----

local DTYPES = { float = 'float32', float32 = 'float32', double = 'float64', float64 = 'float64', byte = 'uint8',
  uint8 = 'uint8' }

-- gray from R, G, B planes: PIL's 'L' conversion (ITU-R 601-2 luma)
local function luma(x)
  local r, g, b = x:select(-3, 1), x:select(-3, 2), x:select(-3, 3)
  if x.dtype == 'uint8' then -- PIL's fixed-point formula, rounded
    r, g, b = r:long(), g:long(), b:long()
    local l = r * 19595 + g * 38470 + b * 7471 + 32768
    return torch.div(l, 65536, { rounding_mode = 'floor' }):to('uint8'):unsqueeze(-3)
  end
  return (r * 0.299 + g * 0.587 + b * 0.114):unsqueeze(-3)
end

-- x (C×H×W with c channels, values up to maxv) -> `want` channels
local function convert_channels(x, want, maxv)
  local c = x:size(1)
  if want == nil or want == c then return x end
  local gray, alpha
  if c >= 3 then gray = luma(x) else gray = x:narrow(1, 1, 1) end
  if c == 2 or c == 4 then alpha = x:narrow(1, c, 1) end
  if want == 1 then return gray end
  if want == 2 then return torch.cat({ gray, alpha or torch.full(gray:size(), maxv, { dtype = x.dtype }) }, 1) end
  local rgb = c >= 3 and x:narrow(1, 1, 3) or torch.cat({ gray, gray, gray }, 1)
  if want == 3 then return rgb:contiguous() end
  return torch.cat({ rgb, alpha or torch.full(gray:size(), maxv, { dtype = x.dtype }) }, 1)
end

-- The decoded tensor of a PNG file held in bytes; where names it in errors.
local function decode(fname, bytes, o, where, lvl)
  o = options(fname, o, { 'channels', 'dtype' }, lvl + 1)
  local ch = o.channels
  if ch ~= nil and (math.type(ch) ~= 'integer' or ch < 1 or ch > 4) then
    error(('image.%s: channels must be nil (as stored), 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), got %s')
      :format(fname, tostring(ch)), lvl + 1)
  end
  local dtype = DTYPES[o.dtype or 'float']
  if not dtype then
    error(('image.%s: dtype must be \'float\' or \'byte\', got %s'):format(fname, tostring(o.dtype)), lvl + 1)
  end
  local ok, t, info = pcall(torch._png_decode, bytes)
  if not ok then
    error(('image.%s: %s: %s'):format(fname, where, tostring(t):gsub('^png: ', '')), lvl + 1)
  end
  local maxv = info.bit_depth == 16 and 65535 or 255
  if dtype == 'uint8' then
    if maxv == 65535 then -- 16 -> 8 bits, rounded: v * 255 / 65535
      t = torch.div(t:long() * 255 + 32767, 65535, { rounding_mode = 'floor' }):to('uint8')
    end
    return convert_channels(t, ch, 255), info
  end
  t = t:to(dtype) / maxv
  return convert_channels(t, ch, 1), info
end

-- image.decode(bytes, {channels=, dtype=}): a PNG file held in a string.
function image.decode(bytes, o)
  if type(bytes) ~= 'string' then
    error('image.decode: expected the bytes of a PNG file (a string), got ' .. torch.type(bytes), 2)
  end
  return (decode('decode', bytes, o, 'PNG data', 2))
end

-- image.load(path, {channels=nil|1|2|3|4, dtype='float'|'byte'}) -> C×H×W tensor.
-- channels=nil keeps what the file holds (a palette becomes RGB, a tRNS chunk an
-- alpha channel); 1 converts RGB to gray with PIL's luma, 3 drops alpha or repeats
-- gray, 4 adds an opaque alpha. float: values in [0, 1] (16-bit files /65535);
-- byte: uint8 (16-bit files rounded to 8 bits). Returns the tensor and an info
-- table {width=, height=, channels=, bit_depth=, color_type=, interlaced=}.
function image.load(path, o)
  if type(path) ~= 'string' then error('image.load: expected a file path (a string), got ' .. torch.type(path), 2) end
  local f, err = io.open(path, 'rb')
  if not f then error(('image.load: cannot open %s (%s)'):format(path, err), 2) end
  local bytes = f:read('a')
  f:close()
  if not bytes then error(('image.load: cannot read %s'):format(path), 2) end
  return decode('load', bytes, o, path, 2)
end

-- t (C×H×W or H×W; floats in [0, 1], clamped, or uint8) -> integer samples for
-- an 8- or 16-bit file
local function samples(fname, t, bits)
  if not torch.isTensor(t) then error(('image.%s: expected an image tensor, got %s'):format(fname, torch.type(t)), 3) end
  if t:dim() ~= 2 and t:dim() ~= 3 then
    error(('image.%s: expected a CxHxW or HxW image, got a %d-D tensor (%s)'):format(fname, t:dim(), shape_str(t)), 3)
  end
  if t:dim() == 3 and (t:size(1) < 1 or t:size(1) > 4) then
    error(('image.%s: expected 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, got %s'):format(fname,
      shape_str(t)), 3)
  end
  if t.device ~= nil and tostring(t.device) ~= 'cpu' then t = t:to('cpu') end
  local maxv = bits == 16 and 65535 or 255
  if t:is_floating_point() then -- torchvision's save_image: x * 255 + 0.5, clamped, truncated
    local v = (t:detach():double() * maxv + 0.5):clamp(0, maxv):floor()
    return v:to(bits == 16 and 'int32' or 'uint8')
  end
  if t.dtype == 'uint8' then return bits == 16 and t:int() * 257 or t end
  if bits == 16 and (t.dtype == 'int32' or t.dtype == 'int64') then return t end
  error(('image.%s: expected a float image in [0, 1] or a uint8 image, got %s%s'):format(fname, t.dtype,
    bits == 16 and '' or ' (16-bit samples: pass {bit_depth=16})'), 3)
end

local function encode_opts(fname, o)
  o = options(fname, o, { 'bit_depth', 'compression' }, 3)
  local bits = o.bit_depth or 8
  if bits ~= 8 and bits ~= 16 then
    error(('image.%s: bit_depth must be 8 or 16, got %s'):format(fname, tostring(bits)), 3)
  end
  local level = o.compression or -1
  if math.type(level) ~= 'integer' or level < -1 or level > 9 then
    error(('image.%s: compression must be an integer in -1 (default) .. 9, got %s'):format(fname, tostring(level)), 3)
  end
  return bits, level
end

-- image.encode(t, {bit_depth=8, compression=-1}) -> the bytes of a PNG file
function image.encode(t, o)
  local bits, level = encode_opts('encode', o)
  return torch._png_encode(samples('encode', t, bits), level)
end

-- image.save(path, t, {bit_depth=8|16, compression=-1..9}): t is C×H×W (1 gray,
-- 2 gray+alpha, 3 RGB, 4 RGBA) or H×W; float in [0, 1] (clamped, rounded) or
-- uint8. The file is written atomically (a temporary file renamed over path).
function image.save(path, t, o)
  if type(path) ~= 'string' then error('image.save: expected a file path (a string), got ' .. torch.type(path), 2) end
  local bits, level = encode_opts('save', o)
  local bytes = torch._png_encode(samples('save', t, bits), level)
  atomic(path, function(f) assert(f:write(bytes)) end, 'image.save')
end

-- ---- geometry ----

local MODES = { nearest = true, bilinear = true, bicubic = true }

local function check_mode(fname, mode, allowed)
  if type(mode) ~= 'string' or not allowed[mode] then
    local names = {}
    for k in pairs(allowed) do names[#names + 1] = "'" .. k .. "'" end
    table.sort(names)
    error(('image.%s: mode must be one of %s, got %s'):format(fname, table.concat(names, ', '), tostring(mode)), 3)
  end
end

-- Resizes to exactly h×w.
local function resize_to(img, h, w, mode)
  local s = img:size()
  if s[#s - 1] == h and s[#s] == w then return img:clone() end
  local x, back = as4d(img)
  local xf, dtype = to_float(x)
  local y = F.interpolate(xf, { size = { h, w }, mode = mode, align_corners = mode ~= 'nearest' and false or nil })
  return back(from_float(y, dtype))
end

-- image.resize(img, size, {mode='bilinear', max_size=nil}) as torchvision's resize
-- (antialias off): size {h, w} is the output size; an integer size is the length
-- of the smaller edge, the other keeping the aspect ratio (floored), and max_size
-- then caps the longer edge.
function image.resize(img, size, o)
  check_image('resize', img)
  o = options('resize', o, { 'mode', 'interpolation', 'max_size', 'antialias' })
  local mode = o.mode or o.interpolation or 'bilinear'
  check_mode('resize', mode, MODES)
  if o.antialias then error('image.resize: antialias=true is not supported', 2) end
  local s = img:size()
  local ih, iw = s[#s - 1], s[#s]
  local h, w
  if math.type(size) == 'integer' or (type(size) == 'table' and #size == 1) then
    local want = math.type(size) == 'integer' and size or size[1]
    if math.type(want) ~= 'integer' or want < 1 then error('image.resize: size must be a positive integer', 2) end
    local short, long = math.min(ih, iw), math.max(ih, iw)
    local new_short, new_long = want, (want * long) // short
    if o.max_size ~= nil then
      if math.type(o.max_size) ~= 'integer' or o.max_size <= want then
        error(('image.resize: max_size must be an integer larger than size (%d), got %s'):format(want,
          tostring(o.max_size)), 2)
      end
      if new_long > o.max_size then new_short, new_long = (o.max_size * new_short) // new_long, o.max_size end
    end
    if iw <= ih then w, h = new_short, new_long else h, w = new_short, new_long end
  else
    h, w = hw('resize', size)
    if o.max_size ~= nil then error('image.resize: max_size is only allowed with an integer size', 2) end
  end
  if h < 1 or w < 1 then error(('image.resize: output size must be positive, got %dx%d'):format(h, w), 2) end
  return resize_to(img, h, w, mode)
end

-- image.scale(img, width, height [, mode='bilinear']) as Torch7 (width first), or
-- image.scale(img, size [, mode]): the longer edge becomes size.
function image.scale(img, a, b, c)
  check_image('scale', img)
  local w, h, mode
  if math.type(b) == 'integer' then
    w, h, mode = a, b, c
  else
    mode = b
    if math.type(a) ~= 'integer' then error('image.scale: expected (img, width, height) or (img, size)', 2) end
    local s = img:size()
    local ih, iw = s[#s - 1], s[#s]
    if iw >= ih then w, h = a, math.max(1, (a * ih) // iw) else h, w = a, math.max(1, (a * iw) // ih) end
  end
  if math.type(w) ~= 'integer' or w < 1 or h < 1 then
    error(('image.scale: width and height must be positive integers, got %s, %s'):format(tostring(w), tostring(h)), 2)
  end
  mode = mode or 'bilinear'
  check_mode('scale', mode, MODES)
  return resize_to(img, h, w, mode)
end

-- image.crop(img, top, left, height, width): the height×width region whose top
-- left pixel is (top, left), 1-based (torchvision's crop with 1-based positions).
-- Parts of the region outside the image are filled with zeros, as torchvision.
function image.crop(img, top, left, height, width)
  check_image('crop', img)
  for i, v in ipairs { top, left, height, width } do
    if math.type(v) ~= 'integer' then
      error(('image.crop: expected integers (img, top, left, height, width), got %s as argument %d'):format(
        tostring(v), i + 1), 2)
    end
  end
  if height < 1 or width < 1 then
    error(('image.crop: height and width must be positive, got %dx%d'):format(height, width), 2)
  end
  local d = img:dim()
  local ih, iw = img:size(d - 1), img:size(d)
  local t, l = top - 1, left - 1 -- 0-based
  local b, r = t + height, l + width
  if t >= 0 and l >= 0 and b <= ih and r <= iw then
    return img:narrow(d - 1, t + 1, height):narrow(d, l + 1, width)
  end
  -- pad what lies outside (negative amounts crop), as torchvision
  return torch.pad(img, { -l, r - iw, -t, b - ih }, 'constant', 0)
end

-- image.center_crop(img, size): size an integer or {h, w}; an image smaller than
-- size is padded with zeros first (torchvision).
function image.center_crop(img, size)
  check_image('center_crop', img)
  local ch, cw = hw('center_crop', size)
  if ch < 1 or cw < 1 then error(('image.center_crop: size must be positive, got %dx%d'):format(ch, cw), 2) end
  local d = img:dim()
  local ih, iw = img:size(d - 1), img:size(d)
  if cw > iw or ch > ih then
    local pl = cw > iw and (cw - iw) // 2 or 0
    local pt = ch > ih and (ch - ih) // 2 or 0
    local pr = cw > iw and (cw - iw + 1) // 2 or 0
    local pb = ch > ih and (ch - ih + 1) // 2 or 0
    img = torch.pad(img, { pl, pr, pt, pb }, 'constant', 0)
    ih, iw = img:size(d - 1), img:size(d)
    if ih == ch and iw == cw then return img end
  end
  local top = round_half_even((ih - ch) / 2)
  local left = round_half_even((iw - cw) / 2)
  return img:narrow(d - 1, top + 1, ch):narrow(d, left + 1, cw)
end

function image.hflip(img)
  check_image('hflip', img)
  return img:flip(img:dim())
end

function image.vflip(img)
  check_image('vflip', img)
  return img:flip(img:dim() - 1)
end

-- pad as torchvision: padding an integer (all sides), {lr, tb} or {left, top, right, bottom}
local PAD_MODES = { constant = 'constant', edge = 'replicate', reflect = 'reflect', symmetric = true }

-- indices (1-based) into a dim of size n padded by a before and b after, mirroring
-- with the edge repeated (torchvision's 'symmetric')
local function symmetric_index(n, a, b)
  local idx = {}
  for i = -a, n + b - 1 do
    local j = i
    local period = 2 * n
    j = j % period
    if j >= n then j = period - 1 - j end
    idx[#idx + 1] = j + 1
  end
  return torch.tensor(idx, { dtype = 'int64' })
end

function image.pad(img, padding, o)
  check_image('pad', img)
  o = options('pad', o, { 'fill', 'padding_mode' })
  local p
  if math.type(padding) == 'integer' then
    p = { padding, padding, padding, padding }
  elseif type(padding) == 'table' and not torch.isTensor(padding) and (#padding == 1 or #padding == 2 or #padding == 4) then
    if #padding == 1 then p = { padding[1], padding[1], padding[1], padding[1] }
    elseif #padding == 2 then p = { padding[1], padding[2], padding[1], padding[2] }
    else p = { padding[1], padding[2], padding[3], padding[4] } end
  end
  for i = 1, 4 do
    if p == nil or math.type(p[i]) ~= 'integer' then
      error('image.pad: padding must be an integer or a table of 1, 2 or 4 integers ({left, top, right, bottom})', 2)
    end
  end
  local left, top, right, bottom = p[1], p[2], p[3], p[4]
  local mode = o.padding_mode or 'constant'
  if type(mode) ~= 'string' or not PAD_MODES[mode] then
    error(('image.pad: padding_mode must be one of constant, edge, reflect, symmetric, got %s'):format(
      tostring(mode)), 2)
  end
  local fill = o.fill or 0
  if type(fill) ~= 'number' then error('image.pad: fill must be a number, got ' .. torch.type(fill), 2) end
  if mode == 'constant' then return torch.pad(img, { left, right, top, bottom }, 'constant', fill) end
  local d = img:dim()
  if mode == 'symmetric' then
    for i = 1, 4 do
      if p[i] < 0 then error('image.pad: symmetric padding must be non-negative', 2) end
    end
    local ih, iw = img:size(d - 1), img:size(d)
    return img:index_select(d - 1, symmetric_index(ih, top, bottom)):index_select(d, symmetric_index(iw, left, right))
  end
  local x, back = as4d(img)
  local n, c = x:size(1), x:size(2)
  local y = torch.pad(x:reshape(n * c, x:size(3), x:size(4)), { left, right, top, bottom }, PAD_MODES[mode])
  return back(y:reshape(n, c, y:size(2), y:size(3)))
end

-- The inverse affine matrix torchvision builds for rotate (no shear, scale 1):
-- output pixel (x, y) relative to the centre -> input position.
local function inverse_rotation(angle, cx, cy)
  local rot = math.rad(-angle)
  local a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
  local m = { d, -b, 0.0, -c, a, 0.0 }
  m[3] = m[3] + m[1] * (-cx) + m[2] * (-cy)
  m[6] = m[6] + m[4] * (-cx) + m[5] * (-cy)
  m[3] = m[3] + cx
  m[6] = m[6] + cy
  return m
end

-- torchvision's _compute_affine_output_size (w, h of the expanded canvas)
local function expanded_size(m, w, h)
  local pts = { { -0.5 * w, -0.5 * h }, { -0.5 * w, 0.5 * h }, { 0.5 * w, 0.5 * h }, { 0.5 * w, -0.5 * h } }
  local lo, hi = { math.huge, math.huge }, { -math.huge, -math.huge }
  for _, p in ipairs(pts) do
    local nx = m[1] * p[1] + m[2] * p[2] + m[3]
    local ny = m[4] * p[1] + m[5] * p[2] + m[6]
    lo[1], hi[1] = math.min(lo[1], nx), math.max(hi[1], nx)
    lo[2], hi[2] = math.min(lo[2], ny), math.max(hi[2], ny)
  end
  local tol = 1e-4
  local function trunc(v) return v >= 0 and math.floor(v) or math.ceil(v) end
  local size = {}
  for i, half in ipairs { w * 0.5, h * 0.5 } do
    local cmax = math.ceil(trunc((hi[i] + half) / tol) * tol)
    local cmin = math.floor(trunc((lo[i] + half) / tol) * tol)
    size[i] = math.tointeger(cmax - cmin)
  end
  return size[1], size[2]
end

-- image.rotate(img, degrees, {mode='nearest'|'bilinear', expand=false, center=nil, fill=nil})
-- as torchvision's rotate: counter-clockwise by degrees about the centre (or
-- center = {x, y}, 1-based pixel positions), through torchvision's grid + F.grid_sample.
-- Pixels from outside the image are 0, or fill (a number or one per channel);
-- expand=true enlarges the output to hold the whole rotated image.
function image.rotate(img, angle, o)
  check_image('rotate', img)
  if type(angle) ~= 'number' then error('image.rotate: angle must be a number (degrees), got ' .. torch.type(angle), 2) end
  o = options('rotate', o, { 'mode', 'interpolation', 'expand', 'center', 'fill' })
  local mode = o.mode or o.interpolation or 'nearest'
  check_mode('rotate', mode, { nearest = true, bilinear = true })
  local x, back = as4d(img)
  local xf, dtype = to_float(x)
  local n, c, h, w = xf:size(1), xf:size(2), xf:size(3), xf:size(4)
  local cx, cy = 0.0, 0.0
  if o.center ~= nil then
    if type(o.center) ~= 'table' or type(o.center[1]) ~= 'number' or type(o.center[2]) ~= 'number' then
      error('image.rotate: center must be a table {x, y} of numbers', 2)
    end
    cx, cy = (o.center[1] - 1) - w * 0.5, (o.center[2] - 1) - h * 0.5
  end
  local m = inverse_rotation(angle, cx, cy)
  local ow, oh = w, h
  if o.expand then ow, oh = expanded_size(m, w, h) end
  -- torchvision's grid: output pixel centres (relative to the centre) through the
  -- inverse matrix, divided by half the input size; computed in the same order as
  -- torchvision so nearest-neighbour ties fall the same way
  local theta = torch.tensor({ { { m[1], m[2], m[3] }, { m[4], m[5], m[6] } } }, { dtype = xf.dtype })
  local xs = torch.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, { dtype = xf.dtype }):view(1, ow):expand(oh, ow)
  local ys = torch.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, { dtype = xf.dtype }):view(oh, 1):expand(oh, ow)
  local base = torch.stack({ xs, ys, torch.ones(oh, ow, { dtype = xf.dtype }) }, 3):reshape(1, oh * ow, 3)
  local rescaled = theta:transpose(2, 3) / torch.tensor({ 0.5 * w, 0.5 * h }, { dtype = xf.dtype })
  local grid = torch.bmm(base, rescaled):reshape(1, oh, ow, 2):expand(n, oh, ow, 2)
  local fill = o.fill
  if fill ~= nil then
    if type(fill) == 'number' then fill = { fill } end
    if type(fill) ~= 'table' or (#fill ~= 1 and #fill ~= c) then
      error(('image.rotate: fill must be a number or a table of %d numbers (one per channel)'):format(c), 2)
    end
    xf = torch.cat({ xf, torch.ones(n, 1, h, w, { dtype = xf.dtype }) }, 2)
  end
  local y = F.grid_sample(xf, grid, { mode = mode, padding_mode = 'zeros', align_corners = false })
  if fill ~= nil then
    local mask = y:narrow(2, c + 1, 1):expand(n, c, oh, ow)
    y = y:narrow(2, 1, c)
    local fv = {}
    for i = 1, c do fv[i] = fill[#fill == 1 and 1 or i] end
    local fimg = torch.tensor(fv, { dtype = y.dtype }):view(1, c, 1, 1):expand(n, c, oh, ow)
    if mode == 'nearest' then
      y = torch.where(mask:lt(0.5), fimg, y)
    else
      y = y * mask + (1.0 - mask) * fimg
    end
  end
  return back(from_float(y:contiguous(), dtype))
end

-- image.rgb2gray(img, {num_output_channels=1}): [..., 3, H, W] (or 4: alpha is
-- dropped) -> [..., 1, H, W] with ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B);
-- uint8 images use PIL's rounded fixed-point formula.
function image.rgb2gray(img, o)
  check_image('rgb2gray', img, 3)
  o = options('rgb2gray', o, { 'num_output_channels' })
  local c = img:size(img:dim() - 2)
  if c ~= 3 and c ~= 4 then
    error(('image.rgb2gray: expected 3 (RGB) or 4 (RGBA) channels at dim -3, got %s'):format(shape_str(img)), 2)
  end
  local n = o.num_output_channels or 1
  if n ~= 1 and n ~= 3 then error('image.rgb2gray: num_output_channels must be 1 or 3, got ' .. tostring(n), 2) end
  local g = luma(img)
  if n == 3 then g = torch.cat({ g, g, g }, g:dim() - 2) end
  return g
end

-- image.make_grid(batch, {nrow=8, padding=2, normalize=false, value_range=nil,
-- scale_each=false, pad_value=0}) as torchvision: batch N×C×H×W (or a table of
-- C×H×W images) -> one C×H'×W' image of nrow images per row; one-channel images
-- become three-channel.
function image.make_grid(batch, o)
  o = options('make_grid', o, { 'nrow', 'padding', 'normalize', 'value_range', 'range', 'scale_each', 'pad_value' })
  local t = batch
  if type(t) == 'table' and not torch.isTensor(t) then
    if #t == 0 then error('image.make_grid: expected a non-empty table of images', 2) end
    t = torch.stack(t, 1)
  end
  if not torch.isTensor(t) then error('image.make_grid: expected a tensor or a table of tensors, got ' .. torch.type(t), 2) end
  if t:dim() == 2 then t = t:unsqueeze(1) end
  if t:dim() == 3 then
    if t:size(1) == 1 then t = torch.cat({ t, t, t }, 1) end
    t = t:unsqueeze(1)
  end
  if t:dim() ~= 4 then error(('image.make_grid: expected N×C×H×W images, got %s'):format(shape_str(t)), 2) end
  if t:size(2) == 1 then t = torch.cat({ t, t, t }, 2) end
  local nrow, padding, pad_value = o.nrow or 8, o.padding or 2, o.pad_value or 0
  if math.type(nrow) ~= 'integer' or nrow < 1 then error('image.make_grid: nrow must be a positive integer', 2) end
  if math.type(padding) ~= 'integer' or padding < 0 then error('image.make_grid: padding must be an integer >= 0', 2) end
  if o.normalize then
    t = t:clone()
    local range = o.value_range or o.range
    local function norm(x)
      local lo, hi
      if range then lo, hi = range[1], range[2] else lo, hi = x:min():item(), x:max():item() end
      x:clamp_(lo, hi)
      x:sub_(lo):div_(math.max(hi - lo, 1e-5))
    end
    if o.scale_each then
      for i = 1, t:size(1) do norm(t[i]) end
    else
      norm(t)
    end
  end
  if t:size(1) == 1 then return t[1] end
  local nmaps = t:size(1)
  local xmaps = math.min(nrow, nmaps)
  local ymaps = (nmaps + xmaps - 1) // xmaps
  local h, w = t:size(3) + padding, t:size(4) + padding
  local grid = torch.full({ t:size(2), h * ymaps + padding, w * xmaps + padding }, pad_value, { dtype = t.dtype })
  local k = 0
  for y = 0, ymaps - 1 do
    for x = 0, xmaps - 1 do
      if k >= nmaps then break end
      grid:narrow(2, y * h + padding + 1, h - padding):narrow(3, x * w + padding + 1, w - padding):copy_(t[k + 1])
      k = k + 1
    end
  end
  return grid
end

image.transforms = require 'image.transforms'

return image
