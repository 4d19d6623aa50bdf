-- DenseNet 121/161/169/201 as torchvision builds them (torchvision/models/densenet.py):
-- features.denseblockN.denselayerM..., features.transitionN, features.norm5, classifier.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local U = require 'models.util'

local M = {}

local DenseLayer = torch.class('models.DenseLayer', 'nn.Module')

function DenseLayer:__init(nin, growth, bn_size, drop_rate)
  nn.Module.__init(self)
  self.norm1 = nn.BatchNorm2d(nin)
  self.relu1 = nn.ReLU(true)
  self.conv1 = nn.Conv2d(nin, bn_size * growth, 1, { bias = false })
  self.norm2 = nn.BatchNorm2d(bn_size * growth)
  self.relu2 = nn.ReLU(true)
  self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, { padding = 1, bias = false })
  self.drop_rate = drop_rate
end

-- inputs: the list of feature maps so far
function DenseLayer:forward(inputs)
  local x = torch.isTensor(inputs) and inputs or torch.cat(inputs, 2)
  local out = self.conv1(self.relu1(self.norm1(x)))
  out = self.conv2(self.relu2(self.norm2(out)))
  if self.drop_rate > 0 then out = F.dropout(out, { p = self.drop_rate, training = self.training }) end
  return out
end

local DenseBlock = torch.class('models.DenseBlock', 'nn.Module')

function DenseBlock:__init(num_layers, nin, bn_size, growth, drop_rate)
  nn.Module.__init(self)
  self.num_layers = num_layers
  for i = 1, num_layers do
    self:add_module('denselayer' .. i, DenseLayer(nin + (i - 1) * growth, growth, bn_size, drop_rate))
  end
end

function DenseBlock:forward(x)
  local feats = { x }
  for i = 1, self.num_layers do feats[#feats + 1] = self['denselayer' .. i](feats) end
  return torch.cat(feats, 2)
end

local function transition(nin, nout)
  return nn.Sequential { { 'norm', nn.BatchNorm2d(nin) }, { 'relu', nn.ReLU(true) },
    { 'conv', nn.Conv2d(nin, nout, 1, { bias = false }) }, { 'pool', nn.AvgPool2d(2, { stride = 2 }) } }
end

local DenseNet = torch.class('models.DenseNet', 'nn.Module')

function DenseNet:__init(growth, block_config, num_init, o)
  nn.Module.__init(self)
  local items = { { 'conv0', nn.Conv2d(3, num_init, 7, { stride = 2, padding = 3, bias = false }) },
    { 'norm0', nn.BatchNorm2d(num_init) }, { 'relu0', nn.ReLU(true) },
    { 'pool0', nn.MaxPool2d(3, { stride = 2, padding = 1 }) } }
  local nf = num_init
  for i, n in ipairs(block_config) do
    items[#items + 1] = { 'denseblock' .. i, DenseBlock(n, nf, o.bn_size, growth, o.drop_rate) }
    nf = nf + n * growth
    if i ~= #block_config then
      items[#items + 1] = { 'transition' .. i, transition(nf, nf // 2) }
      nf = nf // 2
    end
  end
  items[#items + 1] = { 'norm5', nn.BatchNorm2d(nf) }
  self.features = nn.Sequential(items)
  self.classifier = nn.Linear(nf, o.num_classes)
  U.each(self, nn.Conv2d, function(m) nn.init.kaiming_normal_(m.weight) end)
  U.init_norms(self)
  U.each(self, nn.Linear, function(m) nn.init.zeros_(m.bias) end)
end

function DenseNet:forward(x)
  local out = F.relu(self.features(x))
  out = F.adaptive_avg_pool2d(out, { 1, 1 }):flatten(2)
  return self.classifier(out)
end

local NAMES = { 'num_classes', 'weights', 'bn_size', 'drop_rate', 'memory_efficient' }
for _, e in ipairs { { 121, 32, { 6, 12, 24, 16 }, 64 }, { 161, 48, { 6, 12, 36, 24 }, 96 },
  { 169, 32, { 6, 12, 32, 32 }, 64 }, { 201, 32, { 6, 12, 48, 32 }, 64 } } do
  local name = 'densenet' .. e[1]
  M[name] = function(o)
    local a = U.opts(name, o, NAMES, { num_classes = 1000, bn_size = 4, drop_rate = 0, memory_efficient = false })
    return U.finish(DenseNet(e[2], e[3], e[4], a), a)
  end
end
M.DenseNet = DenseNet

return M
