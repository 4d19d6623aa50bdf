-- nn.functional pooling: max/avg/adaptive/LP pooling and max unpooling over the
-- last one or two dims of (N, C, L) / (C, L) or (N, C, H, W) / (C, H, W) inputs.
-- Arguments follow PyTorch, positionally or as a trailing options table:
--   F.max_pool2d(x, 2), F.max_pool2d(x, 3, 2), F.max_pool2d(x, 3, {stride=2, padding=1,
--   dilation=1, ceil_mode=false, return_indices=true})
-- Indices (return_indices=true) are 1-based positions in each flattened input
-- plane (h * W + w + 1), the values max_unpool reads back.
local torch = require 'torch'

local F = {}

-- Splits (...) into named values: positional ones in order of names, then a
-- trailing options table (a table that is neither a tensor nor a list of sizes).
local function args(fname, names, ...)
  local n, pos = select('#', ...), { ... }
  local o = {}
  local last = pos[n]
  if n > 0 and type(last) == 'table' and getmetatable(last) == nil and #last == 0 then
    n = n - 1
    for k, v in pairs(last) do o[k] = v end
  end
  if n > #names then error(fname .. ': too many arguments (' .. n .. ')', 3) end
  for i = 1, n do
    if pos[i] ~= nil then
      if o[names[i]] ~= nil then error(fname .. ': ' .. names[i] .. ' given twice', 3) end
      o[names[i]] = pos[i]
    end
  end
  return o
end

local function check_input(fname, x)
  if not torch.is_tensor(x) then error(fname .. ': expected a tensor input, got ' .. type(x), 3) end
end

local MAX = { 'kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode', 'return_indices' }
local AVG = { 'kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad', 'divisor_override' }

local function max_pool(fname, cfn)
  return function(x, ...)
    check_input(fname, x)
    local o = args(fname, MAX, ...)
    return cfn(x, o.kernel_size, { stride = o.stride, padding = o.padding, dilation = o.dilation,
      ceil_mode = o.ceil_mode, return_indices = o.return_indices })
  end
end

local function avg_pool(fname, cfn)
  return function(x, ...)
    check_input(fname, x)
    local o = args(fname, AVG, ...)
    return cfn(x, o.kernel_size, { stride = o.stride, padding = o.padding, ceil_mode = o.ceil_mode,
      count_include_pad = o.count_include_pad, divisor_override = o.divisor_override })
  end
end

F.max_pool1d = max_pool('max_pool1d', torch.max_pool1d)
F.max_pool2d = max_pool('max_pool2d', torch.max_pool2d)
F.avg_pool1d = avg_pool('avg_pool1d', torch.avg_pool1d)
F.avg_pool2d = avg_pool('avg_pool2d', torch.avg_pool2d)
-- The *_with_indices forms always return (values, indices).
function F.max_pool1d_with_indices(x, ...)
  local o = args('max_pool1d_with_indices', MAX, ...)
  o.return_indices = true
  return F.max_pool1d(x, o)
end
function F.max_pool2d_with_indices(x, ...)
  local o = args('max_pool2d_with_indices', MAX, ...)
  o.return_indices = true
  return F.max_pool2d(x, o)
end

function F.adaptive_avg_pool1d(x, output_size)
  check_input('adaptive_avg_pool1d', x)
  return torch.adaptive_avg_pool1d(x, output_size)
end
function F.adaptive_avg_pool2d(x, output_size)
  check_input('adaptive_avg_pool2d', x)
  return torch.adaptive_avg_pool2d(x, output_size)
end
function F.adaptive_max_pool1d(x, output_size, ...)
  check_input('adaptive_max_pool1d', x)
  local o = args('adaptive_max_pool1d', { 'return_indices' }, ...)
  return torch.adaptive_max_pool1d(x, output_size, { return_indices = o.return_indices })
end
function F.adaptive_max_pool2d(x, output_size, ...)
  check_input('adaptive_max_pool2d', x)
  local o = args('adaptive_max_pool2d', { 'return_indices' }, ...)
  return torch.adaptive_max_pool2d(x, output_size, { return_indices = o.return_indices })
end

-- v (a number or a list of one or two) as two integers; op names the caller
local function pair(op, name, v)
  local a, b = v, v
  if type(v) == 'table' and not torch.isTensor(v) then a, b = v[1], v[2] or v[1] end
  if math.type(a) ~= 'integer' or math.type(b) ~= 'integer' then
    error(('%s: %s must be an integer or a list of integers, got %s'):format(op, name, tostring(v)), 3)
  end
  return a, b
end

-- LP pooling: (sum over the window of x^p)^(1/p), from average pooling as PyTorch does.
function F.lp_pool2d(x, norm_type, ...)
  check_input('lp_pool2d', x)
  local o = args('lp_pool2d', { 'kernel_size', 'stride', 'ceil_mode' }, ...)
  local kh, kw = pair('lp_pool2d', 'kernel_size', o.kernel_size)
  local out = F.avg_pool2d(x:pow(norm_type), o.kernel_size, { stride = o.stride, ceil_mode = o.ceil_mode })
  return (out:sign() * out:abs():relu()):mul(kh * kw):pow(1.0 / norm_type)
end
function F.lp_pool1d(x, norm_type, ...)
  check_input('lp_pool1d', x)
  local o = args('lp_pool1d', { 'kernel_size', 'stride', 'ceil_mode' }, ...)
  local k = pair('lp_pool1d', 'kernel_size', o.kernel_size)
  local out = F.avg_pool1d(x:pow(norm_type), o.kernel_size, { stride = o.stride, ceil_mode = o.ceil_mode })
  return (out:sign() * out:abs():relu()):mul(k):pow(1.0 / norm_type)
end

-- Max unpooling: values go back to the 1-based positions max_pool returned;
-- output_size defaults to (in - 1) * stride - 2 * padding + kernel_size.
function F.max_unpool2d(x, indices, ...)
  check_input('max_unpool2d', x)
  local o = args('max_unpool2d', { 'kernel_size', 'stride', 'padding', 'output_size' }, ...)
  local out = o.output_size
  if out == nil then
    if o.kernel_size == nil then error('max_unpool2d: kernel_size is required', 2) end
    local kh, kw = pair('max_unpool2d', 'kernel_size', o.kernel_size)
    local sh, sw = pair('max_unpool2d', 'stride', o.stride or o.kernel_size)
    local ph, pw = pair('max_unpool2d', 'padding', o.padding or 0)
    local d = x:dim()
    if d < 2 then error('max_unpool2d: expected a 3d or 4d input, got ' .. d .. 'd', 2) end
    out = { (x:size(d - 1) - 1) * sh - 2 * ph + kh, (x:size(d) - 1) * sw - 2 * pw + kw }
  end
  return torch.max_unpool2d(x, indices, out)
end
function F.max_unpool1d(x, indices, ...)
  check_input('max_unpool1d', x)
  local o = args('max_unpool1d', { 'kernel_size', 'stride', 'padding', 'output_size' }, ...)
  local out = o.output_size
  if out == nil then
    if o.kernel_size == nil then error('max_unpool1d: kernel_size is required', 2) end
    local k = pair('max_unpool1d', 'kernel_size', o.kernel_size)
    local s = pair('max_unpool1d', 'stride', o.stride or o.kernel_size)
    local p = pair('max_unpool1d', 'padding', o.padding or 0)
    out = (x:size(x:dim()) - 1) * s - 2 * p + k
  elseif type(out) == 'table' then
    out = out[#out]
  end
  if not torch.is_tensor(indices) then error('max_unpool1d: indices must be a tensor', 2) end
  return torch.max_unpool2d(x:unsqueeze(-2), indices:unsqueeze(-2), { 1, out }):squeeze(-2)
end

return F
