-- Inception v3 as torchvision builds it (torchvision/models/inception.py), with the
-- auxiliary classifier (aux_logits, default true as in the class) and
-- transform_input. Input 299x299 (at least 75x75). In training with aux_logits,
-- forward returns {logits=, aux_logits=} (PyTorch's InceptionOutputs).
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local U = require 'models.util'
local G = require 'models.googlenet'
local BasicConv2d = G.BasicConv2d

local M = {}

local function bc(cin, cout, k, o) return BasicConv2d(cin, cout, k, o) end
local function avg3(x) return F.avg_pool2d(x, 3, { stride = 1, padding = 1 }) end

local A = torch.class('models.InceptionA', 'nn.Module')
function A:__init(cin, pool_features)
  nn.Module.__init(self)
  self.branch1x1 = bc(cin, 64, 1)
  self.branch5x5_1 = bc(cin, 48, 1)
  self.branch5x5_2 = bc(48, 64, 5, { padding = 2 })
  self.branch3x3dbl_1 = bc(cin, 64, 1)
  self.branch3x3dbl_2 = bc(64, 96, 3, { padding = 1 })
  self.branch3x3dbl_3 = bc(96, 96, 3, { padding = 1 })
  self.branch_pool = bc(cin, pool_features, 1)
end
function A:forward(x)
  return torch.cat({ self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
    self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), self.branch_pool(avg3(x)) }, 2)
end

local B = torch.class('models.InceptionB', 'nn.Module')
function B:__init(cin)
  nn.Module.__init(self)
  self.branch3x3 = bc(cin, 384, 3, { stride = 2 })
  self.branch3x3dbl_1 = bc(cin, 64, 1)
  self.branch3x3dbl_2 = bc(64, 96, 3, { padding = 1 })
  self.branch3x3dbl_3 = bc(96, 96, 3, { stride = 2 })
end
function B:forward(x)
  return torch.cat({ self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
    F.max_pool2d(x, 3, { stride = 2 }) }, 2)
end

local C = torch.class('models.InceptionC', 'nn.Module')
function C:__init(cin, c7)
  nn.Module.__init(self)
  self.branch1x1 = bc(cin, 192, 1)
  self.branch7x7_1 = bc(cin, c7, 1)
  self.branch7x7_2 = bc(c7, c7, { 1, 7 }, { padding = { 0, 3 } })
  self.branch7x7_3 = bc(c7, 192, { 7, 1 }, { padding = { 3, 0 } })
  self.branch7x7dbl_1 = bc(cin, c7, 1)
  self.branch7x7dbl_2 = bc(c7, c7, { 7, 1 }, { padding = { 3, 0 } })
  self.branch7x7dbl_3 = bc(c7, c7, { 1, 7 }, { padding = { 0, 3 } })
  self.branch7x7dbl_4 = bc(c7, c7, { 7, 1 }, { padding = { 3, 0 } })
  self.branch7x7dbl_5 = bc(c7, 192, { 1, 7 }, { padding = { 0, 3 } })
  self.branch_pool = bc(cin, 192, 1)
end
function C:forward(x)
  local b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
  local d = x
  for i = 1, 5 do d = self['branch7x7dbl_' .. i](d) end
  return torch.cat({ self.branch1x1(x), b7, d, self.branch_pool(avg3(x)) }, 2)
end

local D = torch.class('models.InceptionD', 'nn.Module')
function D:__init(cin)
  nn.Module.__init(self)
  self.branch3x3_1 = bc(cin, 192, 1)
  self.branch3x3_2 = bc(192, 320, 3, { stride = 2 })
  self.branch7x7x3_1 = bc(cin, 192, 1)
  self.branch7x7x3_2 = bc(192, 192, { 1, 7 }, { padding = { 0, 3 } })
  self.branch7x7x3_3 = bc(192, 192, { 7, 1 }, { padding = { 3, 0 } })
  self.branch7x7x3_4 = bc(192, 192, 3, { stride = 2 })
end
function D:forward(x)
  local b7 = x
  for i = 1, 4 do b7 = self['branch7x7x3_' .. i](b7) end
  return torch.cat({ self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, { stride = 2 }) }, 2)
end

local E = torch.class('models.InceptionE', 'nn.Module')
function E:__init(cin)
  nn.Module.__init(self)
  self.branch1x1 = bc(cin, 320, 1)
  self.branch3x3_1 = bc(cin, 384, 1)
  self.branch3x3_2a = bc(384, 384, { 1, 3 }, { padding = { 0, 1 } })
  self.branch3x3_2b = bc(384, 384, { 3, 1 }, { padding = { 1, 0 } })
  self.branch3x3dbl_1 = bc(cin, 448, 1)
  self.branch3x3dbl_2 = bc(448, 384, 3, { padding = 1 })
  self.branch3x3dbl_3a = bc(384, 384, { 1, 3 }, { padding = { 0, 1 } })
  self.branch3x3dbl_3b = bc(384, 384, { 3, 1 }, { padding = { 1, 0 } })
  self.branch_pool = bc(cin, 192, 1)
end
function E:forward(x)
  local b3 = self.branch3x3_1(x)
  b3 = torch.cat({ self.branch3x3_2a(b3), self.branch3x3_2b(b3) }, 2)
  local d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
  d = torch.cat({ self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d) }, 2)
  return torch.cat({ self.branch1x1(x), b3, d, self.branch_pool(avg3(x)) }, 2)
end

local Aux = torch.class('models.InceptionAux', 'nn.Module')
function Aux:__init(cin, num_classes)
  nn.Module.__init(self)
  self.conv0 = bc(cin, 128, 1)
  self.conv1 = bc(128, 768, 5)
  self.fc = nn.Linear(768, num_classes)
  self.fc.stddev = 0.001 -- torchvision's init reads it (its conv1.stddev sits on the block, unused)
end
function Aux:forward(x)
  x = self.conv1(self.conv0(F.avg_pool2d(x, 5, { stride = 3 })))
  return self.fc(F.adaptive_avg_pool2d(x, { 1, 1 }):flatten(2))
end

local Inception3 = torch.class('models.Inception3', 'nn.Module')

local TRUNK1 = { 'Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'maxpool1', 'Conv2d_3b_1x1', 'Conv2d_4a_3x3',
  'maxpool2', 'Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e' }
local TRUNK2 = { 'Mixed_7a', 'Mixed_7b', 'Mixed_7c', 'avgpool', 'dropout' }

function Inception3:__init(o)
  nn.Module.__init(self)
  self.aux_logits, self.transform_input = o.aux_logits, o.transform_input
  self.Conv2d_1a_3x3 = bc(3, 32, 3, { stride = 2 })
  self.Conv2d_2a_3x3 = bc(32, 32, 3)
  self.Conv2d_2b_3x3 = bc(32, 64, 3, { padding = 1 })
  self.maxpool1 = nn.MaxPool2d(3, { stride = 2 })
  self.Conv2d_3b_1x1 = bc(64, 80, 1)
  self.Conv2d_4a_3x3 = bc(80, 192, 3)
  self.maxpool2 = nn.MaxPool2d(3, { stride = 2 })
  self.Mixed_5b = A(192, 32)
  self.Mixed_5c = A(256, 64)
  self.Mixed_5d = A(288, 64)
  self.Mixed_6a = B(288)
  self.Mixed_6b = C(768, 128)
  self.Mixed_6c = C(768, 160)
  self.Mixed_6d = C(768, 160)
  self.Mixed_6e = C(768, 192)
  if o.aux_logits then self.AuxLogits = Aux(768, o.num_classes) end
  self.Mixed_7a = D(768)
  self.Mixed_7b = E(1280)
  self.Mixed_7c = E(2048)
  self.avgpool = nn.AdaptiveAvgPool2d({ 1, 1 })
  self.dropout = nn.Dropout(o.dropout)
  self.fc = nn.Linear(2048, o.num_classes)
  if o.init_weights ~= false then
    for _, cls in ipairs { nn.Conv2d, nn.Linear } do
      U.each(self, cls, function(m)
        nn.init.trunc_normal_(m.weight, { mean = 0, std = rawget(m, 'stddev') or 0.1, a = -2, b = 2 })
      end)
    end
    U.init_norms(self)
  end
end

function Inception3:forward(x)
  if self.transform_input then x = G._transform_input(x) end
  x = U.forward_chain(self, TRUNK1, x)
  local aux = (self.training and self.aux_logits) and self.AuxLogits(x) or nil
  x = U.forward_chain(self, TRUNK2, x)
  x = self.fc(x:flatten(2))
  if aux then return { logits = x, aux_logits = aux } end
  return x
end

function M.inception_v3(o)
  local a = U.opts('inception_v3', o, { 'num_classes', 'weights', 'aux_logits', 'transform_input', 'init_weights',
    'dropout' }, { num_classes = 1000, aux_logits = true, transform_input = false, dropout = 0.5 })
  return U.finish(Inception3(a), a)
end
M.Inception3 = Inception3

return M
