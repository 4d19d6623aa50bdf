-- plot: the rendered raster (size, colours of the series, tick labels drawn, NaN and
-- constant series), the tick helpers, argument errors, and a PNG written through the
-- image package when it is available.
local torch = require 'torch'
local plot = require 'plot'
local H = require 'spec.support.helpers'

local BLUE, ORANGE, GREEN = plot.colors[1], plot.colors[2], plot.colors[3]

-- pixels of colour rgb in img (3xHxW uint8), optionally inside rows y0..y1, cols x0..x1 (1-based)
local function count(img, rgb, y0, y1, x0, x1)
  if y0 then img = img:narrow(2, y0, y1 - y0 + 1):narrow(3, x0, x1 - x0 + 1) end
  local m = img[1]:eq(rgb[1]):long() * img[2]:eq(rgb[2]):long() * img[3]:eq(rgb[3]):long()
  return m:sum():item()
end

-- pixels that are not white
local function ink(img, y0, y1, x0, x1)
  local total = (y1 - y0 + 1) * (x1 - x0 + 1)
  return total - count(img, { 255, 255, 255 }, y0, y1, x0, x1)
end

local function dims(img)
  local d = {}
  for i = 1, img:dim() do d[i] = img:size(i) end
  return d
end

local function curve(n, f)
  local t = {}
  for i = 1, n do t[i] = f(i) end
  return t
end

describe('plot.line', function()
  local loss = curve(300, function(i) return 2.3 * math.exp(-i / 60) end)
  local acc = curve(300, function(i) return 0.5 + 0.4 * (1 - math.exp(-i / 50)) end)

  it('renders a uint8 3xHxW image of the requested size', function()
    local img = plot.line { series = { { name = 'loss', y = loss } }, title = 'curves' }
    assert.are.equal('uint8', img.dtype)
    assert.are.same({ 3, 480, 640 }, dims(img))
    local small = plot.line { y = { 1, 2, 3 }, width = 200, height = 150 }
    assert.are.same({ 3, 150, 200 }, dims(small))
    -- not all one colour: white background, black frame and text
    assert.is_true(ink(img, 1, 480, 1, 640) > 1000)
    assert.is_true(count(img, { 255, 255, 255 }) > 200000)
    assert.is_true(count(img, { 0, 0, 0 }) > 500)
  end)

  it('draws each series in its own colour, with a legend', function()
    local img = plot.line { series = { { name = 'train loss', y = loss }, { name = 'test acc', y = acc },
      { name = 'custom', y = curve(300, function(i) return 1 + math.sin(i / 20) end), color = '#ff00ff' } },
      xlabel = 'step', ylabel = 'value', title = 'two series' }
    assert.is_true(count(img, BLUE) > 300)
    assert.is_true(count(img, ORANGE) > 300)
    assert.is_true(count(img, { 255, 0, 255 }) > 300)
    assert.are.equal(0, count(img, GREEN)) -- the third series took the custom colour
    -- the legend frame (gray) is there
    assert.is_true(count(img, { 150, 150, 150 }) > 50)
  end)

  it('writes the tick numbers and labels into the margins', function()
    local img = plot.line { y = loss, width = 640, height = 480 }
    -- no ylabel: the left margin holds the y tick numbers only
    assert.is_true(ink(img, 20, 440, 1, 30) > 100)
    -- below the frame: x tick numbers
    assert.is_true(ink(img, 465, 480, 60, 620) > 100)
    local labelled = plot.line { y = loss, xlabel = 'epoch', ylabel = 'loss' }
    -- the ylabel (vertical, centred) at the far left, the xlabel at the bottom centre
    assert.is_true(ink(labelled, 225, 265, 9, 16) > 20)
    assert.is_true(ink(labelled, 468, 480, 320, 370) > 20)
  end)

  it('picks 1-2-5 ticks and formats them', function()
    local a, b, ticks = plot._linear_axis(0, 2.3, 5)
    assert.are.equal(0, a)
    assert.are.equal(2.5, b)
    local labels = {}
    for i, t in ipairs(ticks) do labels[i] = t.label end
    assert.are.same({ '0', '0.5', '1.0', '1.5', '2.0', '2.5' }, labels)
    local _, _, big = plot._linear_axis(0, 3e7, 4)
    assert.are.equal('1e7', big[2].label)
    local _, _, neg = plot._linear_axis(-0.3, 0.3, 6)
    assert.are.equal('-0.3', neg[1].label)
    for _, t in ipairs(neg) do assert.are_not.equal('-0.0', t.label) end
    local _, _, dec = plot._log_axis(-3, 0.5, 6)
    assert.are.equal('0.001', dec[1].label)
    assert.are.equal('10', dec[#dec].label) -- widened to whole decades
  end)

  it('skips NaN and infinite points', function()
    local y = curve(100, function(i) return i end)
    y[10], y[50], y[51], y[90] = 0 / 0, 1 / 0, -1 / 0, 0 / 0
    local img = plot.line { y = y }
    assert.is_true(count(img, BLUE) > 200)
    -- the axis ends at 100, not at infinity: a "100" tick label exists, checked
    -- through the range helper the chart uses
    local _, b = plot._linear_axis(1, 100, 6)
    assert.are.equal(100, b)
    -- a series with no finite point draws no line but still a chart
    local empty = plot.line { series = { { name = 'nan', y = { 0 / 0, 0 / 0 } } } }
    assert.are.same({ 3, 480, 640 }, dims(empty))
    -- the legend sample is the only blue
    assert.is_true(count(empty, BLUE) <= 40)
  end)

  it('handles a constant series and a single point', function()
    local img = plot.line { y = { 3, 3, 3, 3 } }
    assert.is_true(count(img, BLUE) > 500)
    local one = plot.line { y = { 5 } }
    assert.is_true(count(one, BLUE) >= 9)
    local zero = plot.line { x = { 2, 2 }, y = { 0, 0 } }
    assert.is_true(count(zero, BLUE) > 0)
  end)

  it('takes tensors, x values and a log y axis', function()
    local y = torch.tensor(loss)
    local x = torch.arange(1, 301):to('float64') / 100
    local img = plot.line { series = { { x = x, y = y, name = 'loss' }, { y = { -1, 0, 1e-3, 1e-2 }, name = 'with zeros' } },
      logy = true }
    assert.is_true(count(img, BLUE) > 300)
    assert.is_true(count(img, ORANGE) > 20)
    local lim = plot.line { y = loss, xlim = { 100, 200 }, ylim = { 0, 1 } }
    assert.is_true(count(lim, BLUE) > 100)
  end)

  it('renders several panels side by side', function()
    local img = plot.lines { panels = {
      { series = { { name = 'train', y = loss }, { name = 'test', y = acc } }, title = 'loss' },
      { series = { { name = 'accuracy', y = acc } }, title = 'accuracy', ylabel = 'acc' },
    }, title = 'run' }
    assert.are.equal(3, img:size(1))
    assert.are.equal(1040, img:size(3))
    -- both halves hold ink and a blue curve
    local w = img:size(3)
    assert.is_true(count(img, BLUE, 1, img:size(2), 1, w // 2) > 300)
    assert.is_true(count(img, BLUE, 1, img:size(2), w // 2 + 1, w) > 300)
  end)

  it('rejects bad arguments with clear errors', function()
    H.assert_error(function() plot.line(3) end, 'expected a table')
    H.assert_error(function() plot.line {} end, 'expected series')
    H.assert_error(function() plot.line { series = { { x = { 1, 2 }, y = { 1 } } } } end, '2 x values and 1 y values')
    H.assert_error(function() plot.line { y = { 1, 'a' } } end, 'y[2] must be a number')
    H.assert_error(function() plot.line { y = { 1 }, titel = 'x' } end, "unknown option 'titel' (did you mean 'title'?)")
    H.assert_error(function() plot.line { series = { { y = { 1 }, color = 'red' } } } end, "'#rrggbb'")
    H.assert_error(function() plot.line { y = { 1 }, width = 10 } end, 'width must be in 64..16384')
    H.assert_error(function() plot.line { y = { 1 }, ylim = { 1, 0 } } end, 'ylim must be {lo, hi}')
    H.assert_error(function() plot.line { y = { 1 }, legend = 'middle' } end, 'legend must be')
    H.assert_error(function() plot.line { y = torch.zeros(2, 2) } end, '1-D tensor')
    H.assert_error(function() plot.lines { panels = {} } end, 'at least one panel')
    H.assert_error(function() plot.lines { panels = { { y = { 1 }, path = 'x.png' } } } end, 'belong to the figure')
  end)

  it('writes a PNG through the image package', function()
    local ok = pcall(require, 'image')
    local path = os.tmpname() .. '.png'
    if not ok then
      H.assert_error(function() plot.line { y = loss, path = path } end, 'needs the image package')
      pending('the image package is not available: PNG writing not checked')
      return
    end
    local img = plot.line { series = { { name = 'loss', y = loss }, { name = 'acc', y = acc } }, path = path,
      title = 'curves' }
    local f = assert(io.open(path, 'rb'))
    local head = f:read(8)
    f:close()
    assert.are.equal('\137PNG\r\n\26\n', head)
    local image = require 'image'
    local back = image.load(path, { dtype = 'byte' })
    assert.are.same(dims(img), dims(back))
    assert.is_true(back:eq(img):all():item())
    os.remove(path)
    local multi = os.tmpname() .. '.png'
    plot.lines { panels = { { y = loss }, { y = acc } }, path = multi }
    f = assert(io.open(multi, 'rb'))
    assert.are.equal('\137PNG\r\n\26\n', f:read(8))
    f:close()
    os.remove(multi)
  end)
end)
