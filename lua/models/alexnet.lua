-- AlexNet as torchvision builds it (torchvision/models/alexnet.py), PyTorch's
-- default layer initialisation.
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'

local M = {}

local AlexNet = torch.class('models.AlexNet', 'nn.Module')

function AlexNet:__init(o)
  nn.Module.__init(self)
  self.features = nn.Sequential(
    nn.Conv2d(3, 64, 11, { stride = 4, padding = 2 }), nn.ReLU(true), nn.MaxPool2d(3, { stride = 2 }),
    nn.Conv2d(64, 192, 5, { padding = 2 }), nn.ReLU(true), nn.MaxPool2d(3, { stride = 2 }),
    nn.Conv2d(192, 384, 3, { padding = 1 }), nn.ReLU(true),
    nn.Conv2d(384, 256, 3, { padding = 1 }), nn.ReLU(true),
    nn.Conv2d(256, 256, 3, { padding = 1 }), nn.ReLU(true), nn.MaxPool2d(3, { stride = 2 }))
  self.avgpool = nn.AdaptiveAvgPool2d({ 6, 6 })
  self.classifier = nn.Sequential(nn.Dropout(o.dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(true),
    nn.Dropout(o.dropout), nn.Linear(4096, 4096), nn.ReLU(true), nn.Linear(4096, o.num_classes))
end

function AlexNet:forward(x)
  x = self.avgpool(self.features(x))
  return self.classifier(x:flatten(2))
end

function M.alexnet(o)
  local a = U.opts('alexnet', o, { 'num_classes', 'weights', 'dropout' }, { num_classes = 1000, dropout = 0.5 })
  return U.finish(AlexNet(a), a)
end
M.AlexNet = AlexNet

return M
