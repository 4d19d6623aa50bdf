-- Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d over F.conv* (C kernels
-- with autograd), with PyTorch's arguments, parameter names, default initialisation
-- and padding modes (a non-zeros mode pads the input with F.pad first, as PyTorch does).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args, repr = nn._args, nn._repr

local PADDING_MODES = { zeros = true, reflect = true, replicate = true, circular = true }

-- v as a list of n integers >= min (a number is repeated)
local function tuple(what, name, v, n, min)
  local t = {}
  if math.type(v) == 'integer' then
    for i = 1, n do t[i] = v end
  elseif type(v) == 'table' and not torch.isTensor(v) and #v == n then
    for i = 1, n do t[i] = v[i] end
  else
    error(('%s: %s must be an integer or a list of %d integers, got %s'):format(what, name, n, tostring(v)), 4)
  end
  for i = 1, n do
    if math.type(t[i]) ~= 'integer' or t[i] < min then
      error(('%s: %s must hold integers >= %d, got %s'):format(what, name, min, tostring(t[i])), 4)
    end
  end
  return t
end

local function all_equal(t, v)
  for _, x in ipairs(t) do if x ~= v then return false end end
  return true
end

local function make(dims, transposed)
  local name = (transposed and 'ConvTranspose' or 'Conv') .. dims .. 'd'
  local Conv, Module = torch.class('nn.' .. name, 'nn.Module')
  local names = transposed
      and { 'in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'output_padding', 'groups', 'bias',
        'dilation', 'padding_mode', 'dtype', 'device' }
      or { 'in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups', 'bias',
        'padding_mode', 'dtype', 'device' }
  local defaults = { stride = 1, padding = 0, output_padding = 0, dilation = 1, groups = 1, bias = true,
    padding_mode = 'zeros' }
  local fname = (transposed and 'conv_transpose' or 'conv') .. dims .. 'd'

  function Conv:__init(...)
    Module.__init(self)
    local a = args(name, names, defaults, ...)
    for _, k in ipairs { 'in_channels', 'out_channels', 'groups' } do
      if math.type(a[k]) ~= 'integer' or a[k] < 1 then
        error(('%s: %s must be a positive integer, got %s'):format(name, k, tostring(a[k])), 2)
      end
    end
    if a.in_channels % a.groups ~= 0 then error(name .. ': in_channels must be divisible by groups', 2) end
    if a.out_channels % a.groups ~= 0 then error(name .. ': out_channels must be divisible by groups', 2) end
    if not PADDING_MODES[a.padding_mode] then
      error(("%s: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got %s")
        :format(name, tostring(a.padding_mode)), 2)
    end
    if transposed and a.padding_mode ~= 'zeros' then
      error(name .. ": only padding_mode 'zeros' is supported for transposed convolutions", 2)
    end
    self.in_channels, self.out_channels, self.groups = a.in_channels, a.out_channels, a.groups
    self.kernel_size = tuple(name, 'kernel_size', a.kernel_size, dims, 1)
    self.stride = tuple(name, 'stride', a.stride, dims, 1)
    self.dilation = tuple(name, 'dilation', a.dilation, dims, 1)
    if type(a.padding) == 'string' then
      if transposed or (a.padding ~= 'same' and a.padding ~= 'valid') then
        error(("%s: padding must be 'same', 'valid' or integers, got '%s'"):format(name, a.padding), 2)
      end
      if a.padding == 'same' and not all_equal(self.stride, 1) then
        error(name .. ": padding='same' is not supported for strided convolutions", 2)
      end
      self.padding = a.padding
    else
      self.padding = tuple(name, 'padding', a.padding, dims, 0)
    end
    if transposed then
      self.output_padding = tuple(name, 'output_padding', a.output_padding, dims, 0)
    end
    self.padding_mode = a.padding_mode
    -- F.pad's list (last dim first) for a non-zeros padding mode
    if a.padding_mode ~= 'zeros' then
      local pads = {}
      for d = dims, 1, -1 do
        local left, right
        if self.padding == 'same' then
          local total = self.dilation[d] * (self.kernel_size[d] - 1)
          left = total // 2
          right = total - left
        elseif self.padding == 'valid' then
          left, right = 0, 0
        else
          left, right = self.padding[d], self.padding[d]
        end
        pads[#pads + 1] = left
        pads[#pads + 1] = right
      end
      self._pads = pads
    end
    local shape = transposed and { a.in_channels, a.out_channels // a.groups }
        or { a.out_channels, a.in_channels // a.groups }
    for d = 1, dims do shape[#shape + 1] = self.kernel_size[d] end
    local factory = { dtype = a.dtype, device = a.device }
    self.weight = nn.Parameter(torch.empty(shape, factory))
    if a.bias then
      self.bias = nn.Parameter(torch.empty(a.out_channels, factory))
    else
      self:register_parameter('bias', nil)
    end
    self:reset_parameters()
  end

  -- kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias
  function Conv:reset_parameters()
    nn.init.kaiming_uniform_(self.weight, { a = math.sqrt(5) })
    if self.bias ~= nil then
      local fan_in = self.weight:size(2)
      for d = 1, dims do fan_in = fan_in * self.kernel_size[d] end
      local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
      nn.init.uniform_(self.bias, -bound, bound)
    end
  end

  function Conv:forward(x)
    if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 2) end
    local opts = { stride = self.stride, padding = self.padding, dilation = self.dilation, groups = self.groups }
    if transposed then
      opts.output_padding = self.output_padding
    elseif self.padding_mode ~= 'zeros' then
      x = F.pad(x, self._pads, self.padding_mode)
      opts.padding = 0
    end
    return F[fname](x, self.weight, self.bias, opts)
  end

  -- PyTorch's format: only the options that differ from the defaults
  function Conv:extra_repr()
    local s = ('%d, %d, kernel_size=%s, stride=%s'):format(self.in_channels, self.out_channels,
      repr(self.kernel_size), repr(self.stride))
    if type(self.padding) == 'string' then
      s = s .. ', padding=' .. repr(self.padding)
    elseif not all_equal(self.padding, 0) then
      s = s .. ', padding=' .. repr(self.padding)
    end
    if not all_equal(self.dilation, 1) then s = s .. ', dilation=' .. repr(self.dilation) end
    if transposed and not all_equal(self.output_padding, 0) then
      s = s .. ', output_padding=' .. repr(self.output_padding)
    end
    if self.groups ~= 1 then s = s .. ', groups=' .. self.groups end
    if self.bias == nil then s = s .. ', bias=false' end
    if self.padding_mode ~= 'zeros' then s = s .. ', padding_mode=' .. repr(self.padding_mode) end
    return s
  end
end

for _, d in ipairs { 1, 2, 3 } do
  make(d, false)
  make(d, true)
end
