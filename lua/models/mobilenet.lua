-- MobileNet V2 and V3 (small, large) as torchvision builds them
-- (torchvision/models/mobilenetv2.py, mobilenetv3.py). Conv2dNormActivation is an
-- nn.Sequential(conv, bn[, act]) as in torchvision, so the names match:
-- features.2.conv.1.0.weight (Ember) = features.1.conv.0.0.weight (PyTorch).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local U = require 'models.util'

local M = {}

local function init_mobilenet(net)
  U.each(net, nn.Conv2d, function(m)
    nn.init.kaiming_normal_(m.weight, { mode = 'fan_out' })
    if m.bias then nn.init.zeros_(m.bias) end
  end)
  U.init_norms(net)
  U.each(net, nn.Linear, function(m)
    nn.init.normal_(m.weight, 0, 0.01)
    nn.init.zeros_(m.bias)
  end)
end

-- ---- V2 ----

local InvertedResidual = torch.class('models.InvertedResidual', 'nn.Module')

function InvertedResidual:__init(inp, oup, stride, expand_ratio)
  nn.Module.__init(self)
  self.stride = stride
  local hidden = math.floor(inp * expand_ratio + 0.5)
  self.use_res_connect = stride == 1 and inp == oup
  local layers = {}
  if expand_ratio ~= 1 then layers[#layers + 1] = U.conv_norm_act(inp, hidden, 1, { act = nn.ReLU6 }) end
  layers[#layers + 1] = U.conv_norm_act(hidden, hidden, 3, { stride = stride, groups = hidden, act = nn.ReLU6 })
  layers[#layers + 1] = nn.Conv2d(hidden, oup, 1, { bias = false })
  layers[#layers + 1] = nn.BatchNorm2d(oup)
  self.conv = nn.Sequential(table.unpack(layers))
  self.out_channels = oup
end

function InvertedResidual:forward(x)
  if self.use_res_connect then return x + self.conv(x) end
  return self.conv(x)
end

local MobileNetV2 = torch.class('models.MobileNetV2', 'nn.Module')

function MobileNetV2:__init(o)
  nn.Module.__init(self)
  local setting = o.inverted_residual_setting or { { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
    { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 } }
  local wm, rn = o.width_mult, o.round_nearest
  local input_channel = U.make_divisible(32 * wm, rn)
  self.last_channel = U.make_divisible(1280 * math.max(1.0, wm), rn)
  local features = { U.conv_norm_act(3, input_channel, 3, { stride = 2, act = nn.ReLU6 }) }
  for _, s in ipairs(setting) do
    local t, c, n, st = s[1], s[2], s[3], s[4]
    local out = U.make_divisible(c * wm, rn)
    for i = 1, n do
      features[#features + 1] = InvertedResidual(input_channel, out, i == 1 and st or 1, t)
      input_channel = out
    end
  end
  features[#features + 1] = U.conv_norm_act(input_channel, self.last_channel, 1, { act = nn.ReLU6 })
  self.features = nn.Sequential(table.unpack(features))
  self.classifier = nn.Sequential(nn.Dropout(o.dropout), nn.Linear(self.last_channel, o.num_classes))
  init_mobilenet(self)
end

function MobileNetV2:forward(x)
  x = F.adaptive_avg_pool2d(self.features(x), { 1, 1 }):flatten(2)
  return self.classifier(x)
end

function M.mobilenet_v2(o)
  local a = U.opts('mobilenet_v2', o, { 'num_classes', 'weights', 'width_mult', 'round_nearest', 'dropout',
    'inverted_residual_setting' }, { num_classes = 1000, width_mult = 1.0, round_nearest = 8, dropout = 0.2 })
  return U.finish(MobileNetV2(a), a)
end

-- ---- V3 ----

-- torchvision.ops.SqueezeExcitation: x * scale_act(fc2(act(fc1(avgpool(x)))))
local SE = torch.class('models.SqueezeExcitation', 'nn.Module')

function SE:__init(cin, csq, act, scale_act)
  nn.Module.__init(self)
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.fc1 = nn.Conv2d(cin, csq, 1)
  self.fc2 = nn.Conv2d(csq, cin, 1)
  self.activation = (act or nn.ReLU)()
  self.scale_activation = (scale_act or nn.Sigmoid)()
end

function SE:forward(x)
  local s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
  return s * x
end
M.SqueezeExcitation = SE

local V3Block = torch.class('models.InvertedResidualV3', 'nn.Module')

local function bn3() return { eps = 0.001, momentum = 0.01 } end

-- cnf: {input, kernel, expanded, out, use_se, 'RE'|'HS', stride, dilation}
function V3Block:__init(cnf)
  nn.Module.__init(self)
  local cin, k, exp, cout, use_se, actn, stride, dil = table.unpack(cnf)
  self.use_res_connect = stride == 1 and cin == cout
  local act = actn == 'HS' and nn.Hardswish or nn.ReLU
  local layers = {}
  if exp ~= cin then layers[#layers + 1] = U.conv_norm_act(cin, exp, 1, { act = act, bn_opts = bn3() }) end
  layers[#layers + 1] = U.conv_norm_act(exp, exp, k, { stride = dil > 1 and 1 or stride, dilation = dil, groups = exp,
    act = act, bn_opts = bn3() })
  if use_se then layers[#layers + 1] = SE(exp, U.make_divisible(exp // 4, 8), nn.ReLU, nn.Hardsigmoid) end
  layers[#layers + 1] = U.conv_norm_act(exp, cout, 1, { act = false, bn_opts = bn3() })
  self.block = nn.Sequential(table.unpack(layers))
  self.out_channels = cout
end

function V3Block:forward(x)
  local r = self.block(x)
  if self.use_res_connect then r = r + x end
  return r
end

local MobileNetV3 = torch.class('models.MobileNetV3', 'nn.Module')

function MobileNetV3:__init(setting, last_channel, o)
  nn.Module.__init(self)
  local layers = { U.conv_norm_act(3, setting[1][1], 3, { stride = 2, act = nn.Hardswish, bn_opts = bn3() }) }
  for _, cnf in ipairs(setting) do layers[#layers + 1] = V3Block(cnf) end
  local lci = setting[#setting][4]
  local lco = 6 * lci
  layers[#layers + 1] = U.conv_norm_act(lci, lco, 1, { act = nn.Hardswish, bn_opts = bn3() })
  self.features = nn.Sequential(table.unpack(layers))
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.classifier = nn.Sequential(nn.Linear(lco, last_channel), nn.Hardswish(true), nn.Dropout(o.dropout),
    nn.Linear(last_channel, o.num_classes))
  init_mobilenet(self)
end

function MobileNetV3:forward(x)
  x = self.avgpool(self.features(x)):flatten(2)
  return self.classifier(x)
end

local function v3_conf(arch, o)
  local function adj(c) return U.make_divisible(c * o.width_mult, 8) end
  local rd = o.reduced_tail and 2 or 1
  local dil = o.dilated and 2 or 1
  local raw, last
  if arch == 'large' then
    raw = { { 16, 3, 16, 16, false, 'RE', 1, 1 }, { 16, 3, 64, 24, false, 'RE', 2, 1 }, { 24, 3, 72, 24, false, 'RE', 1, 1 },
      { 24, 5, 72, 40, true, 'RE', 2, 1 }, { 40, 5, 120, 40, true, 'RE', 1, 1 }, { 40, 5, 120, 40, true, 'RE', 1, 1 },
      { 40, 3, 240, 80, false, 'HS', 2, 1 }, { 80, 3, 200, 80, false, 'HS', 1, 1 }, { 80, 3, 184, 80, false, 'HS', 1, 1 },
      { 80, 3, 184, 80, false, 'HS', 1, 1 }, { 80, 3, 480, 112, true, 'HS', 1, 1 },
      { 112, 3, 672, 112, true, 'HS', 1, 1 }, { 112, 5, 672, 160 // rd, true, 'HS', 2, dil },
      { 160 // rd, 5, 960 // rd, 160 // rd, true, 'HS', 1, dil }, { 160 // rd, 5, 960 // rd, 160 // rd, true, 'HS', 1, dil } }
    last = adj(1280 // rd)
  else
    raw = { { 16, 3, 16, 16, true, 'RE', 2, 1 }, { 16, 3, 72, 24, false, 'RE', 2, 1 }, { 24, 3, 88, 24, false, 'RE', 1, 1 },
      { 24, 5, 96, 40, true, 'HS', 2, 1 }, { 40, 5, 240, 40, true, 'HS', 1, 1 }, { 40, 5, 240, 40, true, 'HS', 1, 1 },
      { 40, 5, 120, 48, true, 'HS', 1, 1 }, { 48, 5, 144, 48, true, 'HS', 1, 1 },
      { 48, 5, 288, 96 // rd, true, 'HS', 2, dil }, { 96 // rd, 5, 576 // rd, 96 // rd, true, 'HS', 1, dil },
      { 96 // rd, 5, 576 // rd, 96 // rd, true, 'HS', 1, dil } }
    last = adj(1024 // rd)
  end
  for _, c in ipairs(raw) do c[1], c[3], c[4] = adj(c[1]), adj(c[3]), adj(c[4]) end
  return raw, last
end

for _, arch in ipairs { 'small', 'large' } do
  local name = 'mobilenet_v3_' .. arch
  M[name] = function(o)
    local a = U.opts(name, o, { 'num_classes', 'weights', 'dropout', 'width_mult', 'reduced_tail', 'dilated' },
      { num_classes = 1000, dropout = 0.2, width_mult = 1.0, reduced_tail = false, dilated = false })
    local setting, last = v3_conf(arch, a)
    return U.finish(MobileNetV3(setting, last, a), a)
  end
end
M.MobileNetV2, M.MobileNetV3, M.InvertedResidual = MobileNetV2, MobileNetV3, InvertedResidual

return M
