-- image.transforms (also data.transforms): torchvision's transforms on tensors.
-- Each is a callable object: `local t = T.Compose{T.ToTensor(), T.Normalize({0.5}, {0.5})}`
-- then `t(img)`. Images are [..., C, H, W] tensors (see lua/image/init.lua); the
-- random transforms draw from torch's generator (torch.rand / torch.randint), so
-- torch.manual_seed, and the DataLoader's per-worker seeding, make runs repeat.
--
-- Compose, ToTensor, Normalize, Resize, CenterCrop, RandomCrop, RandomHorizontalFlip,
-- RandomVerticalFlip, RandomRotation, ColorJitter, RandomResizedCrop, Lambda, plus
-- Pad, Grayscale and the functional helpers T.adjust_{brightness,contrast,saturation,hue}.
local torch = require 'torch'

local T = {}
-- before requiring image (which requires this module back), and so torch.class
-- files the classes in here
package.loaded['image.transforms'] = T
local image = require 'image'

local options = image._options

local function rand() return torch.rand(1, { dtype = 'float64' }):item() end
local function uniform(a, b) return a + (b - a) * rand() end
local function randint(lo, hi) return torch.randint(lo, hi, { 1 }):item() end -- lo .. hi-1

local Transform = torch.class('image.transforms.Transform')
T.Transform = Transform
function Transform:__call(...) return self:forward(...) end
function Transform:forward() error(torch.type(self) .. ': forward is not implemented', 2) end
function Transform:__tostring()
  return torch.type(self):match('[^.]+$') .. '()'
end

local function class(name)
  local c = torch.class('image.transforms.' .. name, 'image.transforms.Transform')
  T[name] = c
  return c
end

local function check_tensor(name, img)
  if not torch.isTensor(img) then
    error(('%s: expected an image tensor, got %s'):format(name, torch.type(img)), 3)
  end
end

-- ---- Compose, Lambda ----

local Compose = class('Compose')
function Compose:__init(list)
  if type(list) ~= 'table' or torch.isTensor(list) then
    error('Compose: expected a table of transforms, got ' .. torch.type(list), 3)
  end
  self.transforms = {}
  for i, t in ipairs(list) do
    local mt = getmetatable(t)
    if type(t) ~= 'function' and not (mt and mt.__call) then
      error(('Compose: transform %d is not callable (%s)'):format(i, torch.type(t)), 3)
    end
    self.transforms[i] = t
  end
end
function Compose:forward(x)
  for _, t in ipairs(self.transforms) do x = t(x) end
  return x
end
function Compose:__tostring()
  local parts = {}
  for i, t in ipairs(self.transforms) do parts[i] = '    ' .. tostring(t) end
  return 'Compose(\n' .. table.concat(parts, '\n') .. '\n)'
end

local Lambda = class('Lambda')
function Lambda:__init(fn)
  if type(fn) ~= 'function' then error('Lambda: expected a function, got ' .. torch.type(fn), 3) end
  self.fn = fn
end
function Lambda:forward(x) return self.fn(x) end

-- ---- ToTensor, Normalize ----

-- ToTensor({layout=nil|'CHW'|'HWC'}): uint8 → float32 in [0, 1] as C×H×W.
-- A 2-D H×W image becomes 1×H×W. A 3-D uint8 tensor is read as channels-first
-- (C×H×W) when its first dim is 1, 2, 3 or 4, else as H×W×C (numpy/PIL layout) and
-- permuted; layout= overrides the guess. Floating tensors are already converted:
-- they are returned unchanged (2-D ones gain the channel dim).
local ToTensor = class('ToTensor')
function ToTensor:__init(o)
  o = options('ToTensor', o, { 'layout' }, 3)
  if o.layout ~= nil and o.layout ~= 'CHW' and o.layout ~= 'HWC' then
    error("ToTensor: layout must be 'CHW' or 'HWC', got " .. tostring(o.layout), 3)
  end
  self.layout = o.layout
end
function ToTensor:forward(img)
  check_tensor('ToTensor', img)
  local d = img:dim()
  if d ~= 2 and d ~= 3 then
    error(('ToTensor: expected an H×W, C×H×W or H×W×C image, got a %d-D tensor'):format(d), 2)
  end
  if d == 2 then img = img:unsqueeze(1) end
  if img:is_floating_point() then return img end
  if d == 3 then
    local layout = self.layout or (img:size(1) <= 4 and 'CHW' or 'HWC')
    if layout == 'HWC' then img = img:permute(3, 1, 2) end
  end
  if img.dtype == 'uint8' then return img:float():div_(255) end
  return img:float()
end

-- Normalize(mean, std, {inplace=false}): (x - mean[c]) / std[c] per channel (dim -3);
-- mean and std are numbers or tables of one value per channel.
local Normalize = class('Normalize')
function Normalize:__init(mean, std, o)
  o = options('Normalize', o, { 'inplace' }, 3)
  local function list(v, what)
    if type(v) == 'number' then return { v } end
    if type(v) ~= 'table' or torch.isTensor(v) or #v == 0 then
      error(('Normalize: %s must be a number or a table of numbers, got %s'):format(what, torch.type(v)), 4)
    end
    for i = 1, #v do
      if type(v[i]) ~= 'number' then error(('Normalize: %s[%d] is not a number'):format(what, i), 4) end
    end
    return v
  end
  self.mean, self.std = list(mean, 'mean'), list(std, 'std')
  for i = 1, #self.std do
    if self.std[i] == 0 then error('Normalize: std evaluated to zero, leading to division by zero', 3) end
  end
  self.inplace = o.inplace or false
end
function Normalize:forward(x)
  check_tensor('Normalize', x)
  if not x:is_floating_point() then
    error(('Normalize: expected a floating point image (use ToTensor first), got %s'):format(x.dtype), 2)
  end
  if x:dim() < 3 then error('Normalize: expected an image [..., C, H, W], got a ' .. x:dim() .. '-D tensor', 2) end
  local c = x:size(x:dim() - 2)
  local function per_channel(v, what)
    if #v ~= 1 and #v ~= c then
      error(('Normalize: %s has %d values for an image of %d channels'):format(what, #v, c), 3)
    end
    local t = {}
    for i = 1, c do t[i] = v[#v == 1 and 1 or i] end
    return torch.tensor(t, { dtype = x.dtype }):view(c, 1, 1)
  end
  local mean, std = per_channel(self.mean, 'mean'), per_channel(self.std, 'std')
  if self.inplace then return x:sub_(mean):div_(std) end
  return (x - mean) / std
end
function Normalize:__tostring()
  return ('Normalize(mean={%s}, std={%s})'):format(table.concat(self.mean, ', '), table.concat(self.std, ', '))
end

-- ---- geometry ----

-- Resize(size, {interpolation='bilinear', max_size=nil}): image.resize (an integer
-- size is the smaller edge, {h, w} the exact size).
local Resize = class('Resize')
function Resize:__init(size, o)
  o = options('Resize', o, { 'interpolation', 'max_size', 'antialias' }, 3)
  self.size, self.interpolation, self.max_size = size, o.interpolation or 'bilinear', o.max_size
  if o.antialias then error('Resize: antialias=true is not supported', 3) end
end
function Resize:forward(img)
  return image.resize(img, self.size, { mode = self.interpolation, max_size = self.max_size })
end

local CenterCrop = class('CenterCrop')
function CenterCrop:__init(size)
  image._hw('CenterCrop', size)
  self.size = size
end
function CenterCrop:forward(img) return image.center_crop(img, self.size) end

-- Pad(padding, {fill=0, padding_mode='constant'}): image.pad
local Pad = class('Pad')
function Pad:__init(padding, o)
  self.padding, self.opts = padding, options('Pad', o, { 'fill', 'padding_mode' }, 3)
end
function Pad:forward(img) return image.pad(img, self.padding, self.opts) end

-- RandomCrop(size, {padding=nil, pad_if_needed=false, fill=0, padding_mode='constant'})
local RandomCrop = class('RandomCrop')
function RandomCrop:__init(size, o)
  o = options('RandomCrop', o, { 'padding', 'pad_if_needed', 'fill', 'padding_mode' }, 3)
  self.h, self.w = image._hw('RandomCrop', size)
  self.padding, self.pad_if_needed = o.padding, o.pad_if_needed or false
  self.pad_opts = { fill = o.fill or 0, padding_mode = o.padding_mode or 'constant' }
end
function RandomCrop:forward(img)
  check_tensor('RandomCrop', img)
  if self.padding ~= nil then img = image.pad(img, self.padding, self.pad_opts) end
  local d = img:dim()
  local h, w = img:size(d - 1), img:size(d)
  if self.pad_if_needed and w < self.w then
    img = image.pad(img, { self.w - w, 0 }, self.pad_opts)
  end
  if self.pad_if_needed and h < self.h then
    img = image.pad(img, { 0, self.h - h }, self.pad_opts)
  end
  h, w = img:size(d - 1), img:size(d)
  if h < self.h or w < self.w then
    error(('RandomCrop: crop size %dx%d is larger than the image (%dx%d); use padding= or pad_if_needed=true')
      :format(self.h, self.w, h, w), 2)
  end
  if h == self.h and w == self.w then return img end
  local i, j = randint(0, h - self.h + 1), randint(0, w - self.w + 1)
  return image.crop(img, i + 1, j + 1, self.h, self.w)
end

local function check_p(name, p)
  p = p == nil and 0.5 or p
  if type(p) ~= 'number' or p < 0 or p > 1 then
    error(('%s: p must be a probability in [0, 1], got %s'):format(name, tostring(p)), 4)
  end
  return p
end

-- RandomHorizontalFlip(p=0.5), RandomVerticalFlip(p=0.5): one draw per call
local RandomHorizontalFlip = class('RandomHorizontalFlip')
function RandomHorizontalFlip:__init(p) self.p = check_p('RandomHorizontalFlip', p) end
function RandomHorizontalFlip:forward(img)
  check_tensor('RandomHorizontalFlip', img)
  if rand() < self.p then return image.hflip(img) end
  return img
end

local RandomVerticalFlip = class('RandomVerticalFlip')
function RandomVerticalFlip:__init(p) self.p = check_p('RandomVerticalFlip', p) end
function RandomVerticalFlip:forward(img)
  check_tensor('RandomVerticalFlip', img)
  if rand() < self.p then return image.vflip(img) end
  return img
end

-- a number d -> {-d, d}; a table {lo, hi} as is
local function range(name, what, v, center, lo_bound)
  if type(v) == 'number' then
    if v < 0 then error(('%s: %s must be non-negative, got %s'):format(name, what, v), 4) end
    return { center - v, center + v }
  end
  if type(v) == 'table' and #v == 2 and type(v[1]) == 'number' and type(v[2]) == 'number' and v[1] <= v[2] then
    return { v[1], v[2] }
  end
  error(('%s: %s must be a number or a table {min, max}, got %s'):format(name, what, torch.type(v)), 4)
end

-- RandomRotation(degrees, {interpolation='nearest', expand=false, center=nil, fill=0}):
-- an angle drawn uniformly from {-degrees, degrees} (or the given {min, max}).
local RandomRotation = class('RandomRotation')
function RandomRotation:__init(degrees, o)
  o = options('RandomRotation', o, { 'interpolation', 'expand', 'center', 'fill' }, 3)
  self.degrees = range('RandomRotation', 'degrees', degrees, 0)
  self.opts = { mode = o.interpolation or 'nearest', expand = o.expand or false, center = o.center,
    fill = o.fill == nil and 0 or o.fill }
end
function RandomRotation:forward(img)
  check_tensor('RandomRotation', img)
  return image.rotate(img, uniform(self.degrees[1], self.degrees[2]), self.opts)
end

-- RandomResizedCrop(size, {scale={0.08, 1}, ratio={3/4, 4/3}, interpolation='bilinear'}):
-- a random area fraction and aspect ratio (log-uniform), ten tries, then a centre
-- crop, resized to size ({h, w}, or an integer for a square) as torchvision.
local RandomResizedCrop = class('RandomResizedCrop')
function RandomResizedCrop:__init(size, o)
  o = options('RandomResizedCrop', o, { 'scale', 'ratio', 'interpolation', 'antialias' }, 3)
  self.h, self.w = image._hw('RandomResizedCrop', size)
  self.scale = range('RandomResizedCrop', 'scale', o.scale or { 0.08, 1.0 }, 0)
  self.ratio = range('RandomResizedCrop', 'ratio', o.ratio or { 3 / 4, 4 / 3 }, 0)
  self.interpolation = o.interpolation or 'bilinear'
end
function RandomResizedCrop:get_params(height, width)
  local area = height * width
  local lr1, lr2 = math.log(self.ratio[1]), math.log(self.ratio[2])
  for _ = 1, 10 do
    local target = area * uniform(self.scale[1], self.scale[2])
    local aspect = math.exp(uniform(lr1, lr2))
    local w = math.floor(math.sqrt(target * aspect) + 0.5)
    local h = math.floor(math.sqrt(target / aspect) + 0.5)
    if w > 0 and w <= width and h > 0 and h <= height then
      return randint(0, height - h + 1), randint(0, width - w + 1), h, w
    end
  end
  local in_ratio = width / height
  local w, h
  if in_ratio < self.ratio[1] then w = width; h = math.floor(w / self.ratio[1] + 0.5)
  elseif in_ratio > self.ratio[2] then h = height; w = math.floor(h * self.ratio[2] + 0.5)
  else w, h = width, height end
  return (height - h) // 2, (width - w) // 2, h, w
end
function RandomResizedCrop:forward(img)
  check_tensor('RandomResizedCrop', img)
  local d = img:dim()
  local i, j, h, w = self:get_params(img:size(d - 1), img:size(d))
  return image.resize(image.crop(img, i + 1, j + 1, h, w), { self.h, self.w }, { mode = self.interpolation })
end

-- ---- colour ----

local function bound(img) return img:is_floating_point() and 1.0 or 255.0 end

-- torchvision's _blend: ratio * a + (1 - ratio) * b, clamped to the range
local function blend(a, b, ratio)
  local r = (a * ratio + b * (1.0 - ratio)):clamp(0, bound(a))
  return a:is_floating_point() and r or r:to(a.dtype)
end

local function channels(img) return img:size(img:dim() - 2) end

function T.adjust_brightness(img, f)
  return blend(img, torch.zeros_like(img), f)
end

function T.adjust_contrast(img, f)
  local dt = img:is_floating_point() and img.dtype or 'float32'
  local g = channels(img) == 3 and image.rgb2gray(img) or img
  local d = img:dim()
  local mean = g:to(dt):mean({ d - 2, d - 1, d }, true)
  return blend(img, mean, f)
end

function T.adjust_saturation(img, f)
  if channels(img) == 1 then return img end
  return blend(img, image.rgb2gray(img), f)
end

-- RGB [..., 3, H, W] in [0, 1] -> HSV (torchvision's _rgb2hsv)
local function rgb2hsv(img)
  local r, g, b = img:select(-3, 1), img:select(-3, 2), img:select(-3, 3)
  local maxc, minc = img:amax(-3), img:amin(-3)
  local eqc = maxc:eq(minc)
  local cr = maxc - minc
  local ones = torch.ones_like(maxc)
  local s = cr / torch.where(eqc, ones, maxc)
  local crd = torch.where(eqc, ones, cr)
  local rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
  local is_r = maxc:eq(r):to(img.dtype)
  local is_g = maxc:eq(g):to(img.dtype) * (1 - is_r)
  local is_b = (1 - maxc:eq(g):to(img.dtype)) * (1 - is_r)
  local h = is_r * (bc - gc) + is_g * (rc - bc + 2.0) + is_b * (gc - rc + 4.0)
  h = torch.remainder(h / 6.0 + 1.0, 1.0)
  return h, s, maxc
end

local function hsv2rgb(h, s, v)
  local i = torch.floor(h * 6.0)
  local f = h * 6.0 - i
  i = torch.remainder(i, 6)
  local p = (v * (1.0 - s)):clamp(0, 1)
  local q = (v * (1.0 - s * f)):clamp(0, 1)
  local t = (v * (1.0 - s * (1.0 - f))):clamp(0, 1)
  local function pick(a0, a1, a2, a3, a4, a5)
    local out = a5
    for k, a in ipairs { a0, a1, a2, a3, a4 } do out = torch.where(i:eq(k - 1), a, out) end
    return out
  end
  local r = pick(v, q, p, p, t, v)
  local g = pick(t, v, v, q, p, p)
  local b = pick(p, p, t, v, v, q)
  return torch.stack({ r, g, b }, h:dim() - 1)
end

function T.adjust_hue(img, f)
  if type(f) ~= 'number' or f < -0.5 or f > 0.5 then
    error('adjust_hue: hue_factor must be in [-0.5, 0.5], got ' .. tostring(f), 2)
  end
  if channels(img) == 1 then return img end
  local dtype = img.dtype
  local x = img:is_floating_point() and img or img:float() / 255.0
  local h, s, v = rgb2hsv(x)
  h = torch.remainder(h + f, 1.0)
  local out = hsv2rgb(h, s, v)
  if dtype == 'uint8' then return (out * 255.0):to(dtype) end
  return out
end

-- ColorJitter(brightness=0, contrast=0, saturation=0, hue=0): each a number v
-- (factor drawn from {max(0, 1 - v), 1 + v}; hue from {-v, v}, v <= 0.5) or a
-- table {min, max}; the four adjustments run in a random order (torch.randperm).
local ColorJitter = class('ColorJitter')
function ColorJitter:__init(brightness, contrast, saturation, hue)
  if type(brightness) == 'table' and brightness[1] == nil and next(brightness) ~= nil then -- options table
    local o = options('ColorJitter', brightness, { 'brightness', 'contrast', 'saturation', 'hue' }, 3)
    brightness, contrast, saturation, hue = o.brightness, o.contrast, o.saturation, o.hue
  end
  local function factor(v, what)
    if v == nil or v == 0 then return nil end
    local r = range('ColorJitter', what, v, 1)
    if type(v) == 'number' then r[1] = math.max(0, r[1]) end
    if r[1] < 0 then error(('ColorJitter: %s values must be non-negative'):format(what), 4) end
    if r[1] == 1 and r[2] == 1 then return nil end
    return r
  end
  self.brightness = factor(brightness, 'brightness')
  self.contrast = factor(contrast, 'contrast')
  self.saturation = factor(saturation, 'saturation')
  if hue ~= nil and hue ~= 0 then
    self.hue = range('ColorJitter', 'hue', hue, 0)
    if self.hue[1] < -0.5 or self.hue[2] > 0.5 then error('ColorJitter: hue values must be in [-0.5, 0.5]', 3) end
  end
end
function ColorJitter:forward(img)
  check_tensor('ColorJitter', img)
  local order = torch.randperm(4)
  local function draw(r) return r and uniform(r[1], r[2]) end
  local b, c, s, h = draw(self.brightness), draw(self.contrast), draw(self.saturation), draw(self.hue)
  for k = 1, 4 do
    local id = order[k] -- 1-based
    if id == 1 and b then img = T.adjust_brightness(img, b)
    elseif id == 2 and c then img = T.adjust_contrast(img, c)
    elseif id == 3 and s then img = T.adjust_saturation(img, s)
    elseif id == 4 and h then img = T.adjust_hue(img, h) end
  end
  return img
end

-- Grayscale(num_output_channels=1): image.rgb2gray
local Grayscale = class('Grayscale')
function Grayscale:__init(n) self.n = n or 1 end
function Grayscale:forward(img) return image.rgb2gray(img, { num_output_channels = self.n }) end

return T
