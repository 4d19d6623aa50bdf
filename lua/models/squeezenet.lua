-- SqueezeNet 1.0 and 1.1 as torchvision builds them (torchvision/models/squeezenet.py).
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'

local M = {}

local Fire = torch.class('models.Fire', 'nn.Module')

function Fire:__init(inplanes, squeeze, e1, e3)
  nn.Module.__init(self)
  self.inplanes = inplanes
  self.squeeze = nn.Conv2d(inplanes, squeeze, 1)
  self.squeeze_activation = nn.ReLU(true)
  self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
  self.expand1x1_activation = nn.ReLU(true)
  self.expand3x3 = nn.Conv2d(squeeze, e3, 3, { padding = 1 })
  self.expand3x3_activation = nn.ReLU(true)
end

function Fire:forward(x)
  x = self.squeeze_activation(self.squeeze(x))
  return torch.cat({ self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x)) }, 2)
end

local SqueezeNet = torch.class('models.SqueezeNet', 'nn.Module')

local function pool() return nn.MaxPool2d(3, { stride = 2, ceil_mode = true }) end

function SqueezeNet:__init(version, o)
  nn.Module.__init(self)
  self.num_classes = o.num_classes
  if version == '1_0' then
    self.features = nn.Sequential(nn.Conv2d(3, 96, 7, { stride = 2 }), nn.ReLU(true), pool(),
      Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
      Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), pool(),
      Fire(512, 64, 256, 256))
  else
    self.features = nn.Sequential(nn.Conv2d(3, 64, 3, { stride = 2 }), nn.ReLU(true), pool(),
      Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
      Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
      Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
  end
  local final_conv = nn.Conv2d(512, o.num_classes, 1)
  self.classifier = nn.Sequential(nn.Dropout(o.dropout), final_conv, nn.ReLU(true), nn.AdaptiveAvgPool2d({ 1, 1 }))
  U.each(self, nn.Conv2d, function(m)
    if m == final_conv then
      nn.init.normal_(m.weight, 0, 0.01)
    else
      nn.init.kaiming_uniform_(m.weight)
    end
    if m.bias then nn.init.zeros_(m.bias) end
  end)
end

function SqueezeNet:forward(x)
  return self.classifier(self.features(x)):flatten(2)
end

for _, v in ipairs { '1_0', '1_1' } do
  local name = 'squeezenet' .. v
  M[name] = function(o)
    local a = U.opts(name, o, { 'num_classes', 'weights', 'dropout' }, { num_classes = 1000, dropout = 0.5 })
    return U.finish(SqueezeNet(v, a), a)
  end
end
M.SqueezeNet, M.Fire = SqueezeNet, Fire

return M
