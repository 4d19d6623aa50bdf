-- Helpers shared by the model families: option parsing with PyTorch's names, the
-- building blocks torchvision reuses (Conv2dNormActivation, _make_divisible), and
-- the initialisation walks. Not part of the public API (models._util).
local torch = require 'torch'
local nn = require 'nn'

local U = {}

-- U.opts(what, o, names, defaults) -> table: the options table o (or nil) checked
-- against names; an unknown name is an error with a suggestion
function U.opts(what, o, names, defaults)
  if o ~= nil and (type(o) ~= 'table' or torch.isTensor(o) or getmetatable(o) ~= nil) then
    error(('models.%s: expected an options table, got %s'):format(what, torch.type(o)), 3)
  end
  local known = {}
  for _, k in ipairs(names) do known[k] = true end
  local res = {}
  for k, v in pairs(o or {}) do
    if not known[k] then
      error(("models.%s: unknown option '%s'%s"):format(what, tostring(k), torch._did_you_mean(tostring(k), names)), 3)
    end
    res[k] = v
  end
  for k, v in pairs(defaults) do
    if res[k] == nil then res[k] = v end
  end
  if math.type(res.num_classes) ~= 'integer' or res.num_classes < 1 then
    error(('models.%s: num_classes must be a positive integer, got %s'):format(what, tostring(res.num_classes)), 3)
  end
  if res.weights ~= nil and type(res.weights) ~= 'string' and type(res.weights) ~= 'table' then
    error(('models.%s: weights must be a file name or a state dict, got %s'):format(what, torch.type(res.weights)), 3)
  end
  return res
end

-- loads o.weights (a path or a state dict) into net when given; returns net
function U.finish(net, o)
  if o.weights ~= nil then require('models').load_weights(net, o.weights) end
  return net
end

-- torchvision's _make_divisible: v rounded to a multiple of divisor, never below
-- 90% of v
function U.make_divisible(v, divisor, min_value)
  min_value = min_value or divisor
  local new_v = math.max(min_value, (math.floor(v + divisor / 2) // divisor) * divisor)
  if new_v < 0.9 * v then new_v = new_v + divisor end
  return math.tointeger(new_v)
end

-- torchvision.ops.Conv2dNormActivation: Sequential(conv, norm, activation) with
-- padding (k-1)//2*dilation and a bias only without a norm layer.
-- o: {stride=1, groups=1, dilation=1, norm=true, act=nn.ReLU class or false}
function U.conv_norm_act(cin, cout, k, o)
  o = o or {}
  local stride, groups, dilation = o.stride or 1, o.groups or 1, o.dilation or 1
  local norm = o.norm ~= false
  local layers = { nn.Conv2d(cin, cout, k, { stride = stride, padding = (k - 1) // 2 * dilation, dilation = dilation,
    groups = groups, bias = not norm }) }
  if norm then layers[#layers + 1] = nn.BatchNorm2d(cout, o.bn_opts) end
  local act = o.act == nil and nn.ReLU or o.act
  if act then layers[#layers + 1] = act() end
  return nn.Sequential(table.unpack(layers))
end

-- the modules of net in torchvision's order (depth first, parents first)
function U.each(net, class, fn)
  for _, m in ipairs(net:modules()) do
    if torch.isTypeOf(m, class) then fn(m) end
  end
end

-- BatchNorm / GroupNorm / LayerNorm weights to one, biases to zero
function U.init_norms(net)
  for _, cls in ipairs { nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm } do
    U.each(net, cls, function(m)
      if m.weight then nn.init.ones_(m.weight) end
      if m.bias then nn.init.zeros_(m.bias) end
    end)
  end
end

-- torchvision's usual conv init: kaiming normal, fan_out, relu gain; biases zero
function U.init_convs_fan_out(net)
  U.each(net, nn.Conv2d, function(m)
    nn.init.kaiming_normal_(m.weight, { mode = 'fan_out', nonlinearity = 'relu' })
    if m.bias then nn.init.zeros_(m.bias) end
  end)
end

function U.forward_chain(self, names, x)
  for _, n in ipairs(names) do x = self[n](x) end
  return x
end

return U
