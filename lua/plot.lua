-- plot: line charts rendered in Lua into a uint8 3xHxW image tensor (and saved as PNG
-- through require('image').save when a path is given), for loss and accuracy curves.
--   plot.line{series={{name=, x=, y=, color=}, ...}, title=, xlabel=, ylabel=,
--             width=640, height=480, logy=false, xlim=, ylim=, legend='best', path=}
--   plot.lines{panels={spec1, spec2, ...}, cols=, width=, height=, title=, path=}
-- Drawing goes into a sparse table of pixel -> palette index (a chart touches a few
-- percent of its pixels); the image is a background fill plus one index_fill per colour.
local torch = require 'torch'

local plot = {}

-- A 5x7 bitmap font for printable ASCII (32..126): 7 rows of 5 bits per glyph, each row
-- two hex digits, the top row first, bit 4 the leftmost pixel.
local FONT = {
  '00000000000000', '04040404040004', '0A0A0000000000', '0A0A1F0A1F0A0A', -- space ! " #
  '040F140E051E04', '18190204081303', '0C121408151209', '04040000000000', -- $ % & '
  '02040808080402', '08040202020408', '0004150E150400', '0004041F040400', -- ( ) * +
  '00000000000C04', '0000001F000000', '0000000000000C', '00010204081000', -- , - . /
  '0E11131519110E', '040C040404040E', '0E11010204081F', '1F02040201110E', -- 0 1 2 3
  '02060A121F0202', '1F101E0101110E', '0608101E11110E', '1F010204080808', -- 4 5 6 7
  '0E11110E11110E', '0E11110F01020C', '000C0C000C0C00', '000C0C000C0408', -- 8 9 : ;
  '02040810080402', '00001F001F0000', '08040201020408', '0E110102040004', -- < = > ?
  '0E11010D15150E', '0E1111111F1111', '1E11111E11111E', '0E11101010110E', -- @ A B C
  '1C12111111121C', '1F10101E10101F', '1F10101E101010', '0E11101711110F', -- D E F G
  '1111111F111111', '0E04040404040E', '0702020202120C', '11121418141211', -- H I J K
  '1010101010101F', '111B1515111111', '11111915131111', '0E11111111110E', -- L M N O
  '1E11111E101010', '0E11111115120D', '1E11111E141211', '0F10100E01011E', -- P Q R S
  '1F040404040404', '1111111111110E', '11111111110A04', '1111111515150A', -- T U V W
  '11110A040A1111', '1111110A040404', '1F01020408101F', '0E08080808080E', -- X Y Z [
  '00100804020100', '0E02020202020E', '040A1100000000', '0000000000001F', -- \ ] ^ _
  '08040200000000', '00000E010F110F', '1010161911111E', '00000E1010110E', -- ` a b c
  '01010D1311110F', '00000E111F100E', '0609081C080808', '000F11110F010E', -- d e f g
  '10101619111111', '04000C0404040E', '0200060202120C', '10101214181412', -- h i j k
  '0C04040404040E', '00001A15151111', '00001619111111', '00000E1111110E', -- l m n o
  '00001E111E1010', '00000D130F0101', '00001619101010', '00000E100E011E', -- p q r s
  '08081C08080906', '0000111111130D', '00001111110A04', '0000111115150A', -- t u v w
  '0000110A040A11', '000011110F010E', '00001F0204081F', '02040408040402', -- x y z {
  '04040404040404', '08040402040408', '00000815020000', -- | } ~
}

-- glyph pixels as a flat list {dx1, dy1, dx2, dy2, ...}, built on first use
local glyphs = {}
local function glyph(code)
  local g = glyphs[code]
  if g then return g end
  local hex = FONT[code - 31] or FONT[63 - 31] -- unknown characters draw as '?'
  g = {}
  for row = 0, 6 do
    local bits = tonumber(hex:sub(2 * row + 1, 2 * row + 2), 16)
    for col = 0, 4 do
      if bits & (1 << (4 - col)) ~= 0 then
        g[#g + 1] = col
        g[#g + 1] = row
      end
    end
  end
  glyphs[code] = g
  return g
end

local CHAR_W, CHAR_H = 6, 7 -- advance and glyph height at scale 1

local function text_width(s, scale) return (#s * CHAR_W - 1) * (scale or 1) end

-- matplotlib's "tab10" colours, cycled through by the series
local SERIES_COLORS = {
  { 31, 119, 180 }, { 255, 127, 14 }, { 44, 160, 44 }, { 214, 39, 40 }, { 148, 103, 189 },
  { 140, 86, 75 }, { 227, 119, 194 }, { 127, 127, 127 }, { 188, 189, 34 }, { 23, 190, 207 },
}
plot.colors = SERIES_COLORS

local WHITE, BLACK, GRID, FRAME = { 255, 255, 255 }, { 0, 0, 0 }, { 230, 230, 230 }, { 150, 150, 150 }

---------------------------------------------------------------------------------------
-- canvas: 0-based pixel coordinates, x to the right, y down

local Canvas = {}
Canvas.__index = Canvas

local function new_canvas(w, h, background)
  local c = setmetatable({ w = w, h = h, px = {}, palette = {}, index = {} }, Canvas)
  c.bg = c:color(background or WHITE) -- palette entry 1: pixels never drawn
  return c
end

-- the palette index of an {r, g, b} colour
function Canvas:color(rgb)
  local key = rgb[1] * 65536 + rgb[2] * 256 + rgb[3]
  local i = self.index[key]
  if not i then
    i = #self.palette + 1
    self.palette[i] = rgb
    self.index[key] = i
  end
  return i
end

function Canvas:set(x, y, c)
  if x >= 0 and y >= 0 and x < self.w and y < self.h then self.px[y * self.w + x + 1] = c end
end

function Canvas:fill(x0, y0, x1, y1, c) -- inclusive corners
  local w, px = self.w, self.px
  x0, y0 = math.max(x0, 0), math.max(y0, 0)
  x1, y1 = math.min(x1, w - 1), math.min(y1, self.h - 1)
  for y = y0, y1 do
    local base = y * w + 1
    for x = x0, x1 do px[base + x] = c end
  end
end

function Canvas:rect(x0, y0, x1, y1, c) -- outline
  self:fill(x0, y0, x1, y0, c)
  self:fill(x0, y1, x1, y1, c)
  self:fill(x0, y0, x0, y1, c)
  self:fill(x1, y0, x1, y1, c)
end

-- text with its top-left corner at (x, y); vertical: rotated a quarter turn
-- counter-clockwise (reads bottom to top), (x, y) then is its bottom-left corner
function Canvas:text(x, y, s, c, scale, vertical)
  scale = scale or 1
  local w, h, px = self.w, self.h, self.px
  for k = 1, #s do
    local code = s:byte(k)
    if code ~= 32 then
      local g = glyph((code >= 32 and code <= 126) and code or 63)
      local ox = (k - 1) * CHAR_W * scale
      for j = 1, #g, 2 do
        local gx, gy = g[j] * scale + ox, g[j + 1] * scale
        for sy = 0, scale - 1 do
          for sx = 0, scale - 1 do
            local X, Y
            if vertical then X, Y = x + gy + sy, y - gx - sx else X, Y = x + gx + sx, y + gy + sy end
            if X >= 0 and Y >= 0 and X < w and Y < h then px[Y * w + X + 1] = c end
          end
        end
      end
    end
  end
end

-- a 2-pixel-wide line from (x0, y0) to (x1, y1) (Bresenham), kept inside the clip
-- rectangle {cx0, cy0, cx1, cy1}; the segment is clipped first (Liang-Barsky) so far
-- away points (user limits) cost nothing
local function clip_segment(x0, y0, x1, y1, cx0, cy0, cx1, cy1)
  local t0, t1 = 0, 1
  local dx, dy = x1 - x0, y1 - y0
  local p = { -dx, dx, -dy, dy }
  local q = { x0 - cx0, cx1 - x0, y0 - cy0, cy1 - y0 }
  for k = 1, 4 do
    if p[k] == 0 then
      if q[k] < 0 then return nil end
    else
      local r = q[k] / p[k]
      if p[k] < 0 then
        if r > t1 then return nil end
        if r > t0 then t0 = r end
      else
        if r < t0 then return nil end
        if r < t1 then t1 = r end
      end
    end
  end
  return x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy
end

function Canvas:line(x0, y0, x1, y1, c, clip)
  local cx0, cy0, cx1, cy1 = clip[1], clip[2], clip[3], clip[4]
  x0, y0, x1, y1 = clip_segment(x0, y0, x1, y1, cx0, cy0, cx1, cy1)
  if not x0 then return end
  x0, y0 = math.floor(x0 + 0.5), math.floor(y0 + 0.5)
  x1, y1 = math.floor(x1 + 0.5), math.floor(y1 + 0.5)
  local w, px = self.w, self.px
  local dx, dy = math.abs(x1 - x0), -math.abs(y1 - y0)
  local sx, sy = x0 < x1 and 1 or -1, y0 < y1 and 1 or -1
  -- the pen is 2 pixels across the line's main direction
  local ox, oy = 0, 1
  if dx < -dy then ox, oy = 1, 0 end
  local err = dx + dy
  while true do
    if x0 >= cx0 and x0 <= cx1 and y0 >= cy0 and y0 <= cy1 then
      px[y0 * w + x0 + 1] = c
      local X, Y = x0 + ox, y0 + oy
      if X <= cx1 and Y <= cy1 then px[Y * w + X + 1] = c end
    end
    if x0 == x1 and y0 == y1 then break end
    local e2 = 2 * err
    if e2 >= dy then err = err + dy; x0 = x0 + sx end
    if e2 <= dx then err = err + dx; y0 = y0 + sy end
  end
end

-- the uint8 3xHxW image: the background, then one index_fill per palette colour
function Canvas:tensor()
  local w, h = self.w, self.h
  local img = torch.empty(3, h, w, { dtype = 'uint8' })
  local bg = self.palette[self.bg]
  for ch = 1, 3 do img[ch]:fill_(bg[ch]) end
  local lists = {}
  for p, c in pairs(self.px) do
    if c ~= self.bg then
      local l = lists[c]
      if not l then l = {}; lists[c] = l end
      l[#l + 1] = p
    end
  end
  local flat = { img[1]:view(-1), img[2]:view(-1), img[3]:view(-1) }
  for c, l in pairs(lists) do
    local idx = torch.tensor(l)
    local rgb = self.palette[c]
    for ch = 1, 3 do flat[ch]:index_fill_(1, idx, rgb[ch]) end
  end
  return img
end

---------------------------------------------------------------------------------------
-- ticks and numbers

local function finite(v) return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge end

-- 1, 2 or 5 times a power of ten, about range/target
local function nice_step(range, target)
  local raw = range / target
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local f = raw / mag
  local m = f <= 1 and 1 or f <= 2 and 2 or f <= 5 and 5 or 10
  return m * mag
end

-- a number written compactly: "1e-05" -> "1e-5", no "-0"
local function fmt_exp(v, digits)
  local s = string.format('%.' .. digits .. 'e', v)
  local m, e = s:match('^(.-)e(.*)$')
  if m:find('%.') then m = m:gsub('0+$', ''):gsub('%.$', '') end
  return m .. 'e' .. tostring(math.tointeger(tonumber(e)))
end

local function fmt_tick(v, step)
  if math.abs(v) < step * 1e-6 then return '0' end
  local a = math.abs(v)
  if a >= 1e6 or step < 1e-4 then
    local digits = math.max(0, math.floor(math.log(a, 10)) - math.floor(math.log(step, 10) + 1e-9))
    return fmt_exp(v, math.min(digits, 6))
  end
  local decimals = math.max(0, math.ceil(-math.log(step, 10) - 1e-9))
  return string.format('%.' .. decimals .. 'f', v)
end

-- linear axis: limits widened to whole steps, and the tick values
local function linear_axis(lo, hi, target, fixed)
  if hi - lo == math.huge then lo, hi = -1.7e308, 1.7e308 end
  if hi <= lo then
    local pad = lo == 0 and 1 or math.abs(lo) * 0.1
    lo, hi = lo - pad, hi + pad
  end
  local step = nice_step(hi - lo, target)
  local a, b = lo, hi
  if not fixed then
    a, b = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
  end
  local ticks = {}
  for k = math.ceil(a / step - 1e-9), math.floor(b / step + 1e-9) do
    ticks[#ticks + 1] = { value = k * step, label = fmt_tick(k * step, step) }
  end
  return a, b, ticks
end

-- log axis (values are log10 of the data): decades when the data spans at least one,
-- else 1-2-5 steps inside the decade, else linear ticks mapped through log10
local function log_axis(lo, hi, target, fixed)
  if hi <= lo then lo, hi = lo - 0.5, hi + 0.5 end
  local function label(e)
    local v = 10 ^ e
    if e >= -3 and e <= 5 then return fmt_tick(v, 10 ^ math.min(e, 0)) end
    return '1e' .. tostring(math.tointeger(e) or e)
  end
  local ticks = {}
  local e0, e1 = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
  if e1 - e0 >= 1 then
    local a, b = lo, hi
    if not fixed then a, b = math.floor(lo + 1e-9), math.ceil(hi - 1e-9) end
    local every = math.max(1, math.ceil((b - a) / target))
    for e = math.ceil(a - 1e-9), math.floor(b + 1e-9) do
      if e % every == 0 then ticks[#ticks + 1] = { value = e, label = label(e) } end
    end
    return a, b, ticks
  end
  for e = math.floor(lo) - 1, math.ceil(hi) do
    for _, m in ipairs { 1, 2, 5 } do
      local v = math.log(m, 10) + e
      if v >= lo - 1e-9 and v <= hi + 1e-9 then
        ticks[#ticks + 1] = { value = v, label = fmt_tick(m * 10 ^ e, 10 ^ math.min(e, 0)) }
      end
    end
  end
  if #ticks >= 2 then return lo, hi, ticks end
  local a, b, lin = linear_axis(10 ^ lo, 10 ^ hi, target, true)
  ticks = {}
  for _, t in ipairs(lin) do
    if t.value > 0 then ticks[#ticks + 1] = { value = math.log(t.value, 10), label = t.label } end
  end
  return lo, hi, ticks
end

---------------------------------------------------------------------------------------
-- options

local function check_keys(fname, t, known, what)
  for k in pairs(t) do
    if type(k) ~= 'string' then
      error(string.format('%s: %s keys must be names, got %s', fname, what, tostring(k)), 4)
    end
    local found = false
    for _, name in ipairs(known) do if name == k then found = true; break end end
    if not found then
      error(string.format("%s: unknown %s '%s'%s", fname, what, k, torch._did_you_mean(k, known)), 4)
    end
  end
end

local PANEL_KEYS = { 'series', 'y', 'x', 'name', 'title', 'xlabel', 'ylabel', 'logy', 'xlim', 'ylim',
  'legend', 'width', 'height', 'path', 'background' }
local SERIES_KEYS = { 'name', 'x', 'y', 'color' }
local FIGURE_KEYS = { 'panels', 'cols', 'width', 'height', 'path', 'title', 'background' }

local function to_list(fname, v, what)
  if torch.isTensor(v) then
    if v:dim() ~= 1 then
      error(string.format('%s: %s must be a 1-D tensor or a list of numbers, got a %d-D tensor',
        fname, what, v:dim()), 5)
    end
    return v:to('float64'):tolist()
  end
  if type(v) ~= 'table' then
    error(string.format('%s: %s must be a list of numbers or a 1-D tensor, got %s', fname, what, type(v)), 5)
  end
  for i = 1, #v do
    if type(v[i]) ~= 'number' then
      error(string.format('%s: %s[%d] must be a number, got %s', fname, what, i, type(v[i])), 5)
    end
  end
  return v
end

local function parse_color(fname, c, k)
  if type(c) == 'string' then
    local r, g, b = c:match('^#(%x%x)(%x%x)(%x%x)$')
    if r then return { tonumber(r, 16), tonumber(g, 16), tonumber(b, 16) } end
  elseif type(c) == 'table' and #c == 3 then
    local ok = true
    for i = 1, 3 do
      if math.type(c[i]) ~= 'integer' or c[i] < 0 or c[i] > 255 then ok = false end
    end
    if ok then return { c[1], c[2], c[3] } end
  end
  error(string.format("%s: series %d color must be '#rrggbb' or {r, g, b} in 0..255, got %s",
    fname, k, tostring(c)), 5)
end

local function parse_series(fname, spec)
  local list = spec.series
  if list == nil and spec.y ~= nil then list = { { y = spec.y, x = spec.x, name = spec.name } } end
  if type(list) ~= 'table' or #list == 0 then
    error(fname .. ": expected series = {{name=, x=, y=}, ...} (or y = {...}), got "
      .. (list == nil and 'none' or type(list) == 'table' and 'an empty list' or type(list)), 4)
  end
  local out = {}
  for k, s in ipairs(list) do
    if type(s) ~= 'table' then error(string.format('%s: series %d must be a table, got %s', fname, k, type(s)), 4) end
    check_keys(fname, s, SERIES_KEYS, 'series option')
    if s.y == nil then error(string.format('%s: series %d has no y values', fname, k), 4) end
    local y = to_list(fname, s.y, 'series ' .. k .. ' y')
    local x
    if s.x ~= nil then
      x = to_list(fname, s.x, 'series ' .. k .. ' x')
      if #x ~= #y then
        error(string.format('%s: series %d has %d x values and %d y values', fname, k, #x, #y), 4)
      end
    end
    out[k] = {
      name = s.name ~= nil and tostring(s.name) or nil, x = x, y = y,
      color = s.color ~= nil and parse_color(fname, s.color, k) or SERIES_COLORS[(k - 1) % #SERIES_COLORS + 1],
    }
  end
  return out
end

local function check_lim(fname, v, what)
  if v == nil then return nil end
  if type(v) ~= 'table' or not finite(v[1]) or not finite(v[2]) or v[1] >= v[2] then
    error(string.format('%s: %s must be {lo, hi} with finite lo < hi', fname, what), 4)
  end
  return v
end

---------------------------------------------------------------------------------------
-- one chart inside the rectangle (ox, oy, pw, ph) of the canvas

local function draw_panel(fname, cv, spec, ox, oy, pw, ph)
  check_keys(fname, spec, PANEL_KEYS, 'option')
  local series = parse_series(fname, spec)
  local logy = spec.logy and true or false
  local xlim, ylim = check_lim(fname, spec.xlim, 'xlim'), check_lim(fname, spec.ylim, 'ylim')
  if logy and ylim and ylim[1] <= 0 then error(fname .. ': ylim must be positive with logy', 3) end
  for _, k in ipairs { 'title', 'xlabel', 'ylabel' } do
    if spec[k] ~= nil and type(spec[k]) ~= 'string' and type(spec[k]) ~= 'number' then
      error(string.format('%s: %s must be a string, got %s', fname, k, type(spec[k])), 3)
    end
  end
  local legend = spec.legend
  if legend == nil then legend = 'best' end
  local corners = { best = true, ['upper right'] = true, ['upper left'] = true,
    ['lower right'] = true, ['lower left'] = true }
  if legend ~= false and not corners[legend] then
    error(fname .. ": legend must be false, 'best', 'upper right', 'upper left', 'lower right' or 'lower left', got "
      .. tostring(legend), 3)
  end

  -- data ranges over the finite points (positive ones for logy)
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(series) do
    local n = #s.y
    s.ty = {}
    for i = 1, n do
      local x, y = s.x and s.x[i] or i, s.y[i]
      if logy then y = (finite(y) and y > 0) and math.log(y, 10) or 0 / 0 end
      s.ty[i] = y
      if finite(x) and finite(y) then
        if x < xmin then xmin = x end
        if x > xmax then xmax = x end
        if y < ymin then ymin = y end
        if y > ymax then ymax = y end
      end
    end
  end
  if xmin > xmax then xmin, xmax = 0, 1 end
  if ymin > ymax then ymin, ymax = 0, 1 end
  if xlim then xmin, xmax = xlim[1], xlim[2] end
  if ylim then
    ymin, ymax = ylim[1], ylim[2]
    if logy then ymin, ymax = math.log(ymin, 10), math.log(ymax, 10) end
  end

  -- layout: title on top, y tick labels and ylabel on the left, x ones below
  local title = spec.title and tostring(spec.title)
  local tscale = (title and text_width(title, 2) <= pw - 20) and 2 or 1
  local top = oy + (title and (CHAR_H * tscale + 14) or 12)
  local bottom = oy + ph - 1 - (CHAR_H + 10) - (spec.xlabel and CHAR_H + 8 or 0) - 4
  local ya, yb, yticks = (logy and log_axis or linear_axis)(ymin, ymax,
    math.max(2, math.min(10, (bottom - top) // 45)), ylim ~= nil)
  local ylw = 0
  for _, t in ipairs(yticks) do ylw = math.max(ylw, text_width(t.label)) end
  local left = ox + 8 + (spec.ylabel and CHAR_H + 8 or 0) + ylw + 8
  local right = ox + pw - 1 - 16
  if right - left < 20 or bottom - top < 20 then
    error(string.format('%s: the chart area is too small (%dx%d pixels) for its labels', fname, pw, ph), 3)
  end
  local xa, xb, xticks = linear_axis(xmin, xmax, math.max(2, math.min(10, (right - left) // 70)), xlim ~= nil)
  local function sx(x) return left + (x - xa) / (xb - xa) * (right - left) end
  local function sy(y) return bottom - (y - ya) / (yb - ya) * (bottom - top) end

  local black, grid, frame = cv:color(BLACK), cv:color(GRID), cv:color(FRAME)
  local clip = { left + 1, top + 1, right - 1, bottom - 1 }

  -- grid, ticks and their numbers
  for _, t in ipairs(yticks) do
    local y = math.floor(sy(t.value) + 0.5)
    if y >= top and y <= bottom then
      cv:fill(left + 1, y, right - 1, y, grid)
      cv:fill(left - 4, y, left - 1, y, black)
      cv:text(left - 7 - text_width(t.label), y - 3, t.label, black)
    end
  end
  local last_end = -math.huge -- x labels that would overlap their neighbour are left out
  for _, t in ipairs(xticks) do
    local x = math.floor(sx(t.value) + 0.5)
    if x >= left and x <= right then
      cv:fill(x, top + 1, x, bottom - 1, grid)
      cv:fill(x, bottom + 1, x, bottom + 4, black)
      local tw = text_width(t.label)
      local tx = math.min(x - tw // 2, ox + pw - 2 - tw)
      if tx > last_end + 6 then
        cv:text(tx, bottom + 8, t.label, black)
        last_end = tx + tw
      end
    end
  end
  cv:rect(left, top, right, bottom, black)

  -- the series: segments between consecutive finite points; a point with no finite
  -- neighbour is drawn as a small square so it stays visible
  for _, s in ipairs(series) do
    local c = cv:color(s.color)
    local n = #s.y
    local px_, py_ -- previous finite point on screen
    for i = 1, n do
      local x, y = s.x and s.x[i] or i, s.ty[i]
      if finite(x) and finite(y) then
        local X, Y = sx(x), sy(y)
        if px_ then
          cv:line(px_, py_, X, Y, c, clip)
        else
          local nx, ny = s.x and s.x[i + 1] or i + 1, s.ty[i + 1]
          if i == n or not (finite(nx) and finite(ny)) then
            local cx, cy = math.floor(X + 0.5), math.floor(Y + 0.5)
            for yy = math.max(cy - 1, clip[2]), math.min(cy + 2, clip[4]) do
              for xx = math.max(cx - 1, clip[1]), math.min(cx + 2, clip[3]) do cv:set(xx, yy, c) end
            end
          end
        end
        px_, py_ = X, Y
      else
        px_ = nil
      end
    end
  end

  -- legend: a white box with a line sample and the name of each named series
  local named = {}
  for k, s in ipairs(series) do
    if s.name or #series > 1 then named[#named + 1] = { name = s.name or ('series ' .. k), color = s.color } end
  end
  if legend ~= false and #named > 0 then
    local lw = 0
    for _, e in ipairs(named) do lw = math.max(lw, text_width(e.name)) end
    local bw, bh = lw + 20 + 6 + 12, #named * 12 + 8
    local function place(corner)
      local lx = corner:find('left') and left + 8 or right - 8 - bw
      local ly = corner:find('upper') and top + 8 or bottom - 8 - bh
      return lx, ly
    end
    local corner = legend
    if legend == 'best' then
      -- the corner covering the fewest series pixels
      local series_colors = {}
      for _, s in ipairs(series) do series_colors[cv:color(s.color)] = true end
      local best, best_count = 'upper right', math.huge
      for _, cand in ipairs { 'upper right', 'upper left', 'lower right', 'lower left' } do
        local lx, ly = place(cand)
        local count, w, pxs = 0, cv.w, cv.px
        for y = ly, ly + bh - 1 do
          local base = y * w + 1
          for x = lx, lx + bw - 1 do
            if series_colors[pxs[base + x]] then count = count + 1 end
          end
        end
        if count < best_count then best, best_count = cand, count end
      end
      corner = best
    end
    local lx, ly = place(corner)
    if lx >= left and ly >= top then
      cv:fill(lx, ly, lx + bw - 1, ly + bh - 1, cv.bg)
      cv:rect(lx, ly, lx + bw - 1, ly + bh - 1, frame)
      for k, e in ipairs(named) do
        local y = ly + 4 + (k - 1) * 12
        local c = cv:color(e.color)
        cv:fill(lx + 6, y + 3, lx + 6 + 19, y + 4, c)
        cv:text(lx + 6 + 20 + 6, y, e.name, black)
      end
    end
  end

  -- title and axis labels
  if title then
    local tw = text_width(title, tscale)
    cv:text(ox + math.max(0, (pw - tw) // 2), oy + 6, title, black, tscale)
  end
  if spec.xlabel then
    local s = tostring(spec.xlabel)
    cv:text((left + right) // 2 - text_width(s) // 2, bottom + 8 + CHAR_H + 8, s, black)
  end
  if spec.ylabel then
    local s = tostring(spec.ylabel)
    cv:text(ox + 8, (top + bottom) // 2 + text_width(s) // 2, s, black, 1, true)
  end
end

local function check_size(fname, v, what, default)
  if v == nil then return default end
  if math.type(v) ~= 'integer' and not (type(v) == 'number' and v == math.floor(v)) then
    error(string.format('%s: %s must be an integer number of pixels, got %s', fname, what, tostring(v)), 3)
  end
  if v < 64 or v > 16384 then
    error(string.format('%s: %s must be in 64..16384 pixels, got %s', fname, what, tostring(v)), 3)
  end
  return math.tointeger(v)
end

local function save(fname, img, path)
  if type(path) ~= 'string' or path == '' then
    error(string.format('%s: path must be a file name, got %s', fname, tostring(path)), 3)
  end
  local ok, image = pcall(require, 'image')
  if not ok then
    error(fname .. ": saving a PNG needs the image package (require 'image' failed: "
      .. tostring(image):match('^[^\n]*') .. ')', 3)
  end
  image.save(path, img)
end

local function background(fname, spec)
  if spec.background == nil then return WHITE end
  return parse_color(fname, spec.background, 0)
end

-- plot.line(spec): one chart; returns the uint8 3xHxW image (saved when spec.path)
function plot.line(spec)
  local fname = 'plot.line'
  if type(spec) ~= 'table' then
    error(fname .. ': expected a table {series={{name=, x=, y=}, ...}, title=, ...}, got ' .. type(spec), 2)
  end
  local w = check_size(fname, spec.width, 'width', 640)
  local h = check_size(fname, spec.height, 'height', 480)
  local cv = new_canvas(w, h, background(fname, spec))
  draw_panel(fname, cv, spec, 0, 0, w, h)
  local img = cv:tensor()
  if spec.path ~= nil then save(fname, img, spec.path) end
  return img
end

-- plot.lines{panels={...}, cols=, width=, height=, title=, path=}: several charts in a
-- grid (cols per row, all side by side by default up to 3); each panel takes
-- plot.line's options except the size and path
function plot.lines(spec)
  local fname = 'plot.lines'
  if type(spec) ~= 'table' then
    error(fname .. ': expected a table {panels={{series=...}, ...}, ...}, got ' .. type(spec), 2)
  end
  check_keys(fname, spec, FIGURE_KEYS, 'option')
  local panels = spec.panels
  if type(panels) ~= 'table' or #panels == 0 then
    error(fname .. ': expected panels = {{series=...}, ...} with at least one panel', 2)
  end
  local cols = spec.cols or math.min(#panels, 3)
  if math.type(cols) ~= 'integer' or cols < 1 then
    error(fname .. ': cols must be a positive integer, got ' .. tostring(cols), 2)
  end
  cols = math.min(cols, #panels)
  local rows = (#panels + cols - 1) // cols
  local w = check_size(fname, spec.width, 'width', math.min(16384, 520 * cols))
  local title = spec.title and tostring(spec.title)
  local th = title and CHAR_H * 2 + 12 or 0
  local h = check_size(fname, spec.height, 'height', math.min(16384, 400 * rows + th))
  local pw, ph = w // cols, (h - th) // rows
  local cv = new_canvas(w, h, background(fname, spec))
  for k, p in ipairs(panels) do
    if type(p) ~= 'table' then error(string.format('%s: panel %d must be a table, got %s', fname, k, type(p)), 2) end
    if p.width or p.height or p.path then
      error(string.format('%s: panel %d: width, height and path belong to the figure', fname, k), 2)
    end
    local r, c = (k - 1) // cols, (k - 1) % cols
    draw_panel(fname, cv, p, c * pw, th + r * ph, pw, ph)
  end
  if title then
    local s = text_width(title, 2) <= w - 20 and 2 or 1
    cv:text(math.max(0, (w - text_width(title, s)) // 2), 6, title, cv:color(BLACK), s)
  end
  local img = cv:tensor()
  if spec.path ~= nil then save(fname, img, spec.path) end
  return img
end

-- for specs and for other drawings: the font and the tick helpers
plot._text_width = text_width
plot._linear_axis = linear_axis
plot._log_axis = log_axis
plot._canvas = new_canvas

return plot
