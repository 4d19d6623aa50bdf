-- GoogLeNet (Inception v1) as torchvision builds it (torchvision/models/googlenet.py),
-- with its auxiliary classifiers (aux_logits, default true as in the class) and
-- transform_input. In training with aux_logits, forward returns a table
-- {logits=, aux_logits2=, aux_logits1=} (PyTorch's GoogLeNetOutputs); otherwise the logits.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local U = require 'models.util'

local M = {}

local BasicConv2d = torch.class('models.BasicConv2d', 'nn.Module')

-- conv (no bias) + BatchNorm(eps=0.001) + ReLU; o: Conv2d's options
function BasicConv2d:__init(cin, cout, k, o)
  nn.Module.__init(self)
  o = o or {}
  o.bias = false
  self.conv = nn.Conv2d(cin, cout, k, o)
  self.bn = nn.BatchNorm2d(cout, { eps = 0.001 })
end

function BasicConv2d:forward(x)
  return F.relu(self.bn(self.conv(x)))
end
M.BasicConv2d = BasicConv2d

-- torchvision's transform_input: ImageNet-normalised input re-normalised to mean
-- 0.5, std 0.5 per channel
function M._transform_input(x)
  local a = x:narrow(2, 1, 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
  local b = x:narrow(2, 2, 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
  local c = x:narrow(2, 3, 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
  return torch.cat({ a, b, c }, 2)
end

local Inception = torch.class('models.GoogLeNetInception', 'nn.Module')

function Inception:__init(cin, c1, c3r, c3, c5r, c5, pp)
  nn.Module.__init(self)
  self.branch1 = BasicConv2d(cin, c1, 1)
  self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, 1), BasicConv2d(c3r, c3, 3, { padding = 1 }))
  -- torchvision uses a 3x3 here too (a known deviation from the paper, kept for its weights)
  self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, 1), BasicConv2d(c5r, c5, 3, { padding = 1 }))
  self.branch4 = nn.Sequential(nn.MaxPool2d(3, { stride = 1, padding = 1, ceil_mode = true }), BasicConv2d(cin, pp, 1))
end

function Inception:forward(x)
  return torch.cat({ self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x) }, 2)
end

local Aux = torch.class('models.GoogLeNetAux', 'nn.Module')

function Aux:__init(cin, num_classes, dropout)
  nn.Module.__init(self)
  self.conv = BasicConv2d(cin, 128, 1)
  self.fc1 = nn.Linear(2048, 1024)
  self.fc2 = nn.Linear(1024, num_classes)
  self.dropout = nn.Dropout(dropout)
end

function Aux:forward(x)
  x = self.conv(F.adaptive_avg_pool2d(x, { 4, 4 })):flatten(2)
  return self.fc2(self.dropout(F.relu(self.fc1(x))))
end

local GoogLeNet = torch.class('models.GoogLeNet', 'nn.Module')

function GoogLeNet:__init(o)
  nn.Module.__init(self)
  self.aux_logits, self.transform_input = o.aux_logits, o.transform_input
  local function mp(k, s) return nn.MaxPool2d(k, { stride = s, ceil_mode = true }) end
  self.conv1 = BasicConv2d(3, 64, 7, { stride = 2, padding = 3 })
  self.maxpool1 = mp(3, 2)
  self.conv2 = BasicConv2d(64, 64, 1)
  self.conv3 = BasicConv2d(64, 192, 3, { padding = 1 })
  self.maxpool2 = mp(3, 2)
  self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
  self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
  self.maxpool3 = mp(3, 2)
  self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
  self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
  self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
  self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
  self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
  self.maxpool4 = mp(2, 2)
  self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
  self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
  if o.aux_logits then
    self.aux1 = Aux(512, o.num_classes, o.dropout_aux)
    self.aux2 = Aux(528, o.num_classes, o.dropout_aux)
  end
  self.avgpool = nn.AdaptiveAvgPool2d({ 1, 1 })
  self.dropout = nn.Dropout(o.dropout)
  self.fc = nn.Linear(1024, o.num_classes)
  if o.init_weights ~= false then
    for _, cls in ipairs { nn.Conv2d, nn.Linear } do
      U.each(self, cls, function(m) nn.init.trunc_normal_(m.weight, { mean = 0, std = 0.01, a = -2, b = 2 }) end)
    end
    U.init_norms(self)
  end
end

function GoogLeNet:forward(x)
  if self.transform_input then x = M._transform_input(x) end
  x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
  x = self.maxpool3(self.inception3b(self.inception3a(x)))
  x = self.inception4a(x)
  local train_aux = self.training and self.aux_logits
  local aux1 = train_aux and self.aux1(x) or nil
  x = self.inception4d(self.inception4c(self.inception4b(x)))
  local aux2 = train_aux and self.aux2(x) or nil
  x = self.maxpool4(self.inception4e(x))
  x = self.inception5b(self.inception5a(x))
  x = self.fc(self.dropout(self.avgpool(x):flatten(2)))
  if train_aux then return { logits = x, aux_logits2 = aux2, aux_logits1 = aux1 } end
  return x
end

function M.googlenet(o)
  local a = U.opts('googlenet', o, { 'num_classes', 'weights', 'aux_logits', 'transform_input', 'init_weights',
    'dropout', 'dropout_aux' }, { num_classes = 1000, aux_logits = true, transform_input = false, dropout = 0.2,
    dropout_aux = 0.7 })
  return U.finish(GoogLeNet(a), a)
end
M.GoogLeNet = GoogLeNet

return M
