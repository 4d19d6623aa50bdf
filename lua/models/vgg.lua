-- VGG 11/13/16/19 with and without batch norm, as torchvision builds them
-- (torchvision/models/vgg.py): features, avgpool (7x7 adaptive), classifier.
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'

local M = {}

local CFGS = {
  A = { 64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M' },
  B = { 64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M' },
  D = { 64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M' },
  E = { 64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M' },
}

local function make_layers(cfg, batch_norm)
  local layers, cin = {}, 3
  for _, v in ipairs(cfg) do
    if v == 'M' then
      layers[#layers + 1] = nn.MaxPool2d(2, { stride = 2 })
    else
      layers[#layers + 1] = nn.Conv2d(cin, v, 3, { padding = 1 })
      if batch_norm then layers[#layers + 1] = nn.BatchNorm2d(v) end
      layers[#layers + 1] = nn.ReLU(true)
      cin = v
    end
  end
  return nn.Sequential(table.unpack(layers))
end

local VGG = torch.class('models.VGG', 'nn.Module')

function VGG:__init(features, o)
  nn.Module.__init(self)
  self.features = features
  self.avgpool = nn.AdaptiveAvgPool2d({ 7, 7 })
  self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(true), nn.Dropout(o.dropout),
    nn.Linear(4096, 4096), nn.ReLU(true), nn.Dropout(o.dropout), nn.Linear(4096, o.num_classes))
  if o.init_weights then
    U.init_convs_fan_out(self)
    U.init_norms(self)
    U.each(self, nn.Linear, function(m)
      nn.init.normal_(m.weight, 0, 0.01)
      nn.init.zeros_(m.bias)
    end)
  end
end

function VGG:forward(x)
  x = self.avgpool(self.features(x))
  return self.classifier(x:flatten(2))
end

local NAMES = { 'num_classes', 'weights', 'init_weights', 'dropout' }
for _, e in ipairs { { 'vgg11', 'A' }, { 'vgg13', 'B' }, { 'vgg16', 'D' }, { 'vgg19', 'E' } } do
  for _, bn in ipairs { false, true } do
    local name = e[1] .. (bn and '_bn' or '')
    M[name] = function(o)
      local a = U.opts(name, o, NAMES, { num_classes = 1000, init_weights = true, dropout = 0.5 })
      return U.finish(VGG(make_layers(CFGS[e[2]], bn), a), a)
    end
  end
end
M.VGG = VGG

return M
