-- image (lua/image, core/png.c) and image.transforms. PNG files in every format
-- are hand-written by scripts/fixtures/gen_image.py (spec/fixtures/png/, checked
-- there against PIL); geometry references are torchvision's tensor code ported to
-- PyTorch ops in the same generator (torchvision is not installed).
local torch = require 'torch'
local image = require 'image'
local data = require 'data'
local H = require 'spec.support.helpers'

local FX = H.fixture('image')
local here = debug.getinfo(1, 'S').source:sub(2):match('^(.*)/[^/]*$') or 'spec'
local PNG = here .. '/fixtures/png/'
local T = image.transforms

local function dims(t)
  local s, r = t:size(), {}
  for i = 1, #s do r[i] = s[i] end
  return r
end

local function read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
end

describe('image PNG files', function()
  local tmp = os.tmpname()
  after_each(function() os.remove(tmp) end)

  it('decodes every format (gray/GA/RGB/RGBA, 1-16 bits, palette, tRNS, interlaced) to the recorded values', function()
    local n = 0
    for name, f in pairs(FX.png) do
      local expect = H.tensor(f.expect)
      local maxv = f.bits == 16 and 65535 or 255
      local b, info = image.load(PNG .. name, { dtype = 'byte' })
      local byte_ref = f.bits == 16 and torch.div(expect * 255 + 32767, 65535, { rounding_mode = 'floor' }) or expect
      H.assert_close(b:long(), byte_ref, { ignore_dtype = true })
      assert.are.equal('uint8', b.dtype)
      assert.are.equal(f.bits, info.bit_depth, name)
      local x = image.load(PNG .. name)
      assert.are.equal('float32', x.dtype)
      H.assert_close(x, expect:double() / maxv, { ignore_dtype = true, atol = 1e-7 })
      assert.are.equal(f.channels, x:size(1), name)
      n = n + 1
    end
    assert.are.equal(17, n)
    local _, info = image.load(PNG .. 'rgb8_interlaced.png')
    assert.is_true(info.interlaced)
  end)

  it('converts channels on load: PIL luma for gray, opaque alpha, dropped alpha', function()
    H.assert_close(image.load(PNG .. 'rgb8.png', { channels = 1, dtype = 'byte' })[1]:long(), FX.rgb8_L,
      { ignore_dtype = true })
    local rgb = image.load(PNG .. 'rgb8.png')
    H.assert_close(image.load(PNG .. 'rgb8.png', { channels = 1 })[1],
      rgb[1] * 0.299 + rgb[2] * 0.587 + rgb[3] * 0.114, { atol = 1e-6 })
    local rgba = image.load(PNG .. 'rgb8.png', { channels = 4 })
    assert.is_true(torch.equal(rgba:narrow(1, 1, 3), rgb))
    assert.are.equal(1, rgba[4]:min():item())
    local g = image.load(PNG .. 'gray8.png', { channels = 3 })
    assert.is_true(torch.equal(g[1], g[3]))
    assert.is_true(torch.equal(image.load(PNG .. 'rgba8.png', { channels = 3 }),
      image.load(PNG .. 'rgba8.png'):narrow(1, 1, 3)))
    assert.are.same({ 2, 5, 7 }, dims(image.load(PNG .. 'gray16.png', { channels = 2 })))
  end)

  it('round-trips 1, 2, 3 and 4 channels, uint8 and float, 8 and 16 bits', function()
    torch.manual_seed(1)
    for c = 1, 4 do
      local u = torch.randint(0, 256, { c, 6, 5 }, { dtype = 'uint8' })
      image.save(tmp, u)
      assert.is_true(torch.equal(image.load(tmp, { dtype = 'byte' }), u))
      local f = torch.rand(c, 6, 5)
      image.save(tmp, f)
      local back = image.load(tmp)
      H.assert_close(back, (f * 255 + 0.5):floor() / 255, { atol = 1e-6 })
      image.save(tmp, f, { bit_depth = 16 })
      local b16, info = image.load(tmp)
      assert.are.equal(16, info.bit_depth)
      H.assert_close(b16, f, { atol = 1 / 65535 })
    end
    -- H×W, out-of-range floats clamped, float64 input
    image.save(tmp, torch.tensor({ { -1.0, 0.5 }, { 2.0, 1.0 } }, { dtype = 'float64' }))
    H.assert_close(image.load(tmp, { dtype = 'byte' }):long(), { { { 0, 128 }, { 255, 255 } } }, { ignore_dtype = true })
    -- a non-contiguous image
    local u = torch.randint(0, 256, { 7, 4, 3 }, { dtype = 'uint8' }):permute(3, 1, 2)
    image.save(tmp, u)
    assert.is_true(torch.equal(image.load(tmp, { dtype = 'byte' }), u))
    -- encode/decode in memory
    assert.is_true(torch.equal(image.decode(image.encode(u, { compression = 1 }), { dtype = 'byte' }), u))
  end)

  it('gives clear errors for bad arguments', function()
    H.assert_error(function() image.load(here .. '/no/such.png') end, 'cannot open')
    H.assert_error(function() image.load(PNG .. 'rgb8.png', { channels = 5 }) end, 'channels must be')
    H.assert_error(function() image.load(PNG .. 'rgb8.png', { dtype = 'half' }) end, "dtype must be 'float' or 'byte'")
    H.assert_error(function() image.load(PNG .. 'rgb8.png', { chanels = 1 }) end, "unknown option 'chanels'")
    H.assert_error(function() image.save(tmp, torch.rand(5, 4, 4)) end, '4 (RGBA) channels')
    H.assert_error(function() image.save(tmp, torch.rand(4)) end, 'expected a CxHxW or HxW image')
    H.assert_error(function() image.save(tmp, torch.zeros(3, 4, 4, { dtype = 'int32' })) end, 'bit_depth=16')
    H.assert_error(function() image.save(tmp, torch.rand(3, 4, 4), { bit_depth = 12 }) end, 'bit_depth must be 8 or 16')
    H.assert_error(function() torch._png_encode(torch.full({ 1, 2, 2 }, 70000, { dtype = 'int32' })) end,
      'must be in 0..65535')
    H.assert_error(function() torch._png_encode(torch.zeros(3, 0, 4, { dtype = 'uint8' })) end, 'empty')
  end)

  it('rejects non-PNG, truncated and corrupt files with an error naming the file', function()
    local good = read(PNG .. 'rgb8.png')
    write(tmp, 'GIF89a not a png at all')
    H.assert_error(function() image.load(tmp) end, 'not a PNG file')
    write(tmp, '')
    H.assert_error(function() image.load(tmp) end, tmp .. ': not a PNG file')
    for _, cut in ipairs { 8, 20, 33, 50, #good - 13, #good - 1 } do
      write(tmp, good:sub(1, cut))
      local err = H.assert_error(function() image.load(tmp) end, tmp)
      assert.is_truthy(err:find('truncated') or err:find('crc') or err:find('CRC') or err:find('IDAT'), err)
    end
    -- a flipped byte inside IDAT: a CRC error
    local p = good:find('IDAT', 1, true) + 8
    write(tmp, good:sub(1, p - 1) .. string.char((good:byte(p) + 1) % 256) .. good:sub(p + 1))
    local err = H.assert_error(function() image.load(tmp) end, tmp)
    assert.is_truthy(err:find('CRC') or err:find('IDAT'), err)
    -- a header claiming a huge image in a tiny file is refused before allocating
    local ihdr = 'IHDR' .. string.pack('>I4I4BBBBB', 60000, 60000, 8, 6, 0, 0, 0)
    local bad = '\137PNG\r\n\26\n' .. string.pack('>I4', 13) .. ihdr .. string.pack('>I4', torch._crc32(ihdr)) ..
      good:sub(34)
    H.assert_error(function() image.decode(bad) end, 'cannot fit in a file')
    H.assert_error(function() image.decode(42) end, 'expected the bytes of a PNG file')
  end)

  it('survives a seeded mutation loop: every mutant loads or raises a Lua error', function()
    local seeds = { read(PNG .. 'rgb8.png'), read(PNG .. 'palette_trns.png'), read(PNG .. 'rgb8_interlaced.png'),
      read(PNG .. 'gray16.png') }
    local state = 12345
    local function rnd(n) -- a small LCG: the same mutants on every run
      state = (state * 1103515245 + 12345) % 2147483648
      return state % n
    end
    local loaded, failed = 0, 0
    for i = 1, 400 do
      local s = seeds[i % #seeds + 1]
      local bytes = { s:byte(1, -1) }
      local kind = rnd(4)
      if kind == 0 then -- flip bytes
        for _ = 1, 1 + rnd(4) do
          local k = 1 + rnd(#bytes)
          bytes[k] = rnd(256)
        end
      elseif kind == 1 then -- truncate
        for k = #bytes, 1 + rnd(#bytes), -1 do bytes[k] = nil end
      elseif kind == 2 then -- a mutated header field (sizes, depth, type), CRC left stale or fixed
        local k = 17 + rnd(13)
        bytes[k] = rnd(256)
      else -- insert garbage
        local k = 1 + rnd(#bytes)
        for _ = 1, 1 + rnd(8) do table.insert(bytes, k, rnd(256)) end
      end
      local m = string.char(table.unpack(bytes))
      if kind == 2 and rnd(2) == 0 then -- fix the IHDR CRC so libpng reads the bad header
        m = m:sub(1, 29) .. string.pack('>I4', torch._crc32(m:sub(13, 29))) .. m:sub(34)
      end
      local ok, err = pcall(image.decode, m)
      if ok then loaded = loaded + 1 else
        failed = failed + 1
        assert.are.equal('string', type(err))
        assert.is_truthy(err:find('image.decode: PNG data: ', 1, true), err)
      end
    end
    assert.is_true(failed > 100, 'failed ' .. failed)
  end)
end)

describe('image operations', function()
  local img, img8 = H.tensor(FX.img), H.tensor(FX.img8)

  it('resizes as F.interpolate (nearest, bilinear, bicubic; float and uint8)', function()
    for key, ref in pairs(FX.resize) do
      local mode, h, w = key:match('^(%a+)_(%d+)x(%d+)$')
      h, w = tonumber(h), tonumber(w)
      H.assert_close(image.resize(img, { h, w }, { mode = mode }), ref.f, { atol = 1e-5 })
      H.assert_close(image.resize(img8, { h, w }, { mode = mode }), ref.b)
    end
    -- an integer size is the smaller edge
    H.assert_close(image.resize(img, 5), FX.resize_small_edge, { atol = 1e-5 })
    assert.are.same({ 3, 6, 4 }, dims(image.resize(torch.rand(3, 9, 6), 4)))
    assert.are.same({ 3, 2, 5 }, dims(image.resize(torch.rand(3, 8, 16), 4, { max_size = 5 })))
    -- scale: Torch7's (width, height) order, or the longer edge
    assert.are.same({ 3, 4, 6 }, dims(image.scale(img, 6, 4)))
    assert.are.same({ 3, 7, 9 }, dims(image.scale(img, 9)))
    -- batches and H×W images
    assert.are.same({ 2, 3, 5, 4 }, dims(image.resize(torch.rand(2, 3, 7, 9), { 5, 4 })))
    assert.are.same({ 5, 4 }, dims(image.resize(torch.rand(7, 9), { 5, 4 })))
    H.assert_error(function() image.resize(img, { 5, 4 }, { mode = 'area' }) end, 'mode must be one of')
  end)

  it('rotates as torchvision (nearest, bilinear, fill, expand, uint8)', function()
    local R = FX.rotate
    H.assert_close(image.rotate(img, 30), R.n30, { atol = 1e-5 })
    H.assert_close(image.rotate(img, 45, { mode = 'bilinear' }), R.b45, { atol = 1e-5 })
    H.assert_close(image.rotate(img, 45, { mode = 'bilinear', fill = { 0.5, 0.25, 1.0 } }), R.b45_fill, { atol = 1e-5 })
    H.assert_close(image.rotate(img, 30, { expand = true }), R.n30_expand, { atol = 1e-5 })
    H.assert_close(image.rotate(img, -20, { mode = 'bilinear', expand = true }), R.b_m20_expand, { atol = 1e-5 })
    H.assert_close(image.rotate(img8, 90), R.n90_8)
    H.assert_close(image.rotate(img, 0), img, { atol = 1e-6 })
  end)

  it('crops (1-based top, left), centre-crops (with torchvision rounding and padding), flips and pads', function()
    H.assert_close(image.crop(img, 2, 3, 4, 5), FX.crop['in'])
    H.assert_close(image.crop(img, -1, 0, 4, 5), FX.crop.out)
    for key, ref in pairs(FX.center_crop) do
      local h, w = key:match('(%d+)x(%d+)')
      H.assert_close(image.center_crop(img, { tonumber(h), tonumber(w) }), ref)
    end
    H.assert_close(image.center_crop(img, 3), FX.center_crop['3x3'])
    local x = torch.arange(6):reshape(1, 2, 3)
    assert.are.same({ { { 2, 1, 0 }, { 5, 4, 3 } } }, image.hflip(x):tolist())
    assert.are.same({ { { 3, 4, 5 }, { 0, 1, 2 } } }, image.vflip(x):tolist())
    H.assert_close(image.pad(img, { 1, 2, 3, 1 }, { padding_mode = 'symmetric' }), FX.pad.symmetric)
    H.assert_close(image.pad(img, { 1, 2, 3, 1 }, { padding_mode = 'reflect' }), FX.pad.reflect)
    H.assert_close(image.pad(img, { 1, 2, 3, 1 }, { padding_mode = 'edge' }), FX.pad.edge)
    H.assert_close(image.pad(img, { 1, 2, 3, 1 }, { fill = 0.5 }), FX.pad.constant)
    assert.are.same({ 3, 11, 13 }, dims(image.pad(img, 2)))
    assert.are.same({ 3, 9, 11 }, dims(image.pad(img8, { 1, 1 }, { padding_mode = 'reflect' })))
    H.assert_error(function() image.crop(img, 1, 1, 0, 2) end, 'must be positive')
    H.assert_error(function() image.pad(img, { 1, 2, 3 }) end, 'padding must be')
  end)

  it('converts to gray (ITU-R 601-2) and makes grids as torchvision', function()
    H.assert_close(image.rgb2gray(img)[1], FX.gray, { atol = 1e-6 })
    assert.are.same({ 3, 7, 9 }, dims(image.rgb2gray(img, { num_output_channels = 3 })))
    H.assert_error(function() image.rgb2gray(torch.rand(2, 4, 4)) end, 'expected 3 (RGB) or 4 (RGBA)')
    local batch = H.tensor(FX.batch)
    H.assert_close(image.make_grid(batch), FX.make_grid.default)
    H.assert_close(image.make_grid(batch, { nrow = 2, padding = 1, pad_value = 0.5 }), FX.make_grid.nrow2)
    H.assert_close(image.make_grid(batch, { nrow = 3, normalize = true }), FX.make_grid.norm, { atol = 1e-6 })
    H.assert_close(image.make_grid(batch, { nrow = 3, normalize = true, scale_each = true }), FX.make_grid.norm_each,
      { atol = 1e-6 })
    local list = {}
    for i = 1, 5 do list[i] = batch[i] end
    H.assert_close(image.make_grid(list), FX.make_grid.default)
    -- a uint8 grid (the plotting module's use) saves as a PNG
    local g = image.make_grid(torch.randint(0, 256, { 4, 3, 5, 5 }, { dtype = 'uint8' }), { nrow = 2 })
    assert.are.same({ 3, 16, 16 }, dims(g))
    assert.are.equal('uint8', g.dtype)
  end)
end)

describe('image.transforms', function()
  local img = H.tensor(FX.img)

  it('is data.transforms too', function()
    assert.are.equal(T, data.transforms)
    assert.are.equal(T.Compose, data.transforms.Compose)
  end)

  it('ToTensor, Normalize, Resize, CenterCrop and Compose match torchvision', function()
    local hwc = H.tensor(FX.hwc)
    H.assert_close(T.ToTensor()(hwc), FX.to_tensor)
    H.assert_close(T.ToTensor()(hwc:permute(3, 1, 2)), FX.to_tensor)          -- already C×H×W
    H.assert_close(T.ToTensor({ layout = 'HWC' })(hwc), FX.to_tensor)
    assert.are.same({ 1, 6, 5 }, dims(T.ToTensor()(hwc:select(3, 1)))) -- H×W
    local norm = T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 })
    H.assert_close(norm(img), FX.normalize, { atol = 1e-6 })
    local x = img:clone()
    T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }, { inplace = true })(x)
    H.assert_close(x, FX.normalize, { atol = 1e-6 })
    H.assert_close(T.Resize(5)(img), FX.resize_small_edge, { atol = 1e-5 })
    H.assert_close(T.CenterCrop({ 4, 6 })(img), FX.center_crop['4x6'])
    local c = T.Compose { T.ToTensor(), T.Normalize(0.5, 0.5) }
    H.assert_close(c(hwc), H.tensor(FX.to_tensor) * 2 - 1, { atol = 1e-6 })
    H.assert_close(T.Lambda(function(t) return t * 2 end)(img), img * 2)
    H.assert_error(function() T.Normalize({ 0.5 }, { 0 }) end, 'division by zero')
    H.assert_error(function() norm(torch.rand(2, 4, 4)) end, '3 values for an image of 2 channels')
    H.assert_error(function() T.Compose { T.ToTensor(), 42 } end, 'transform 2 is not callable')
  end)

  it('random transforms repeat with a seed, respect p=0 and p=1, and stay in bounds', function()
    local pipeline = T.Compose { T.RandomResizedCrop(6), T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
      T.RandomRotation(15), T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomCrop(5, { padding = 1 }) }
    torch.manual_seed(7)
    local a = { pipeline(img), pipeline(img) }
    torch.manual_seed(7)
    local b = { pipeline(img), pipeline(img) }
    assert.is_true(torch.equal(a[1], b[1]))
    assert.is_true(torch.equal(a[2], b[2]))
    assert.is_false(torch.equal(a[1], a[2]))
    assert.are.same({ 3, 5, 5 }, dims(a[1]))
    assert.is_true(a[1]:min():item() >= 0 and a[1]:max():item() <= 1)

    assert.is_true(torch.equal(T.RandomHorizontalFlip(1)(img), image.hflip(img)))
    assert.is_true(torch.equal(T.RandomHorizontalFlip(0)(img), img))
    assert.is_true(torch.equal(T.RandomVerticalFlip(1)(img), image.vflip(img)))
    assert.is_true(torch.equal(T.RandomVerticalFlip(0)(img), img))
    local flips = 0
    torch.manual_seed(3)
    local hf = T.RandomHorizontalFlip()
    for _ = 1, 200 do
      if not torch.equal(hf(img), img) then flips = flips + 1 end
    end
    assert.is_true(flips > 70 and flips < 130, 'flips ' .. flips)
    H.assert_error(function() T.RandomHorizontalFlip(2) end, 'p must be a probability')

    -- RandomCrop: every crop is a window of the (padded) image
    torch.manual_seed(1)
    local rc = T.RandomCrop({ 4, 5 })
    for _ = 1, 20 do
      local c = rc(img)
      local found = false
      for i = 1, 4 do
        for j = 1, 5 do
          if torch.equal(c, image.crop(img, i, j, 4, 5)) then found = true end
        end
      end
      assert.is_true(found)
    end
    assert.are.same({ 3, 9, 12 }, dims(T.RandomCrop({ 9, 12 }, { pad_if_needed = true })(img)))
    H.assert_error(function() T.RandomCrop(10)(img) end, 'larger than the image')
    -- RandomRotation(0) is the identity; RandomResizedCrop with scale 1, ratio of the image keeps it whole
    H.assert_close(T.RandomRotation(0)(img), img, { atol = 1e-6 })
    H.assert_close(T.RandomResizedCrop({ 7, 9 }, { scale = { 1, 1 }, ratio = { 9 / 7, 9 / 7 } })(img), img,
      { atol = 1e-6 })
  end)

  it('ColorJitter adjustments: identity factors, brightness 0, hue as torchvision', function()
    H.assert_close(T.adjust_brightness(img, 1), img, { atol = 1e-6 })
    assert.are.equal(0, T.adjust_brightness(img, 0):abs():max():item())
    H.assert_close(T.adjust_contrast(img, 1), img, { atol = 1e-6 })
    H.assert_close(T.adjust_saturation(img, 1), img, { atol = 1e-6 })
    H.assert_close(T.adjust_hue(img, 0.2), FX.hue.p02, { atol = 1e-5 })
    H.assert_close(T.adjust_hue(img, -0.35), FX.hue.m035, { atol = 1e-5 })
    H.assert_close(T.adjust_hue(img, 0), img, { atol = 1e-5 })
    local g = image.rgb2gray(img)
    H.assert_close(T.adjust_saturation(img, 0), torch.cat({ g, g, g }, 1), { atol = 1e-6 })
    local u = (img * 255):round():to('uint8')
    assert.are.equal('uint8', T.ColorJitter(0.5, 0.5, 0.5, 0.2)(u).dtype)
    H.assert_error(function() T.adjust_hue(img, 0.7) end, 'hue_factor must be in')
  end)
end)
