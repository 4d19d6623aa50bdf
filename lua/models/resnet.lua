-- ResNet, ResNeXt and Wide ResNet as torchvision builds them (torchvision/models/resnet.py):
-- same module tree, parameter and buffer names, shapes and initialisation, so a
-- torchvision state dict loads through models.load_weights.
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'

local M = {}

local function conv3x3(cin, cout, stride, groups, dilation)
  return nn.Conv2d(cin, cout, 3, { stride = stride or 1, padding = dilation or 1, groups = groups or 1, bias = false,
    dilation = dilation or 1 })
end

local function conv1x1(cin, cout, stride)
  return nn.Conv2d(cin, cout, 1, { stride = stride or 1, bias = false })
end

local BasicBlock = torch.class('models.BasicBlock', 'nn.Module')
BasicBlock.expansion = 1

function BasicBlock:__init(inplanes, planes, stride, downsample, groups, base_width, dilation)
  nn.Module.__init(self)
  if groups ~= 1 or base_width ~= 64 then error('BasicBlock: only supports groups=1 and width_per_group=64', 3) end
  if dilation > 1 then error('BasicBlock: dilation > 1 is not supported in BasicBlock', 3) end
  self.conv1 = conv3x3(inplanes, planes, stride)
  self.bn1 = nn.BatchNorm2d(planes)
  self.relu = nn.ReLU(true)
  self.conv2 = conv3x3(planes, planes)
  self.bn2 = nn.BatchNorm2d(planes)
  self.downsample = downsample
  self.stride = stride
end

function BasicBlock:forward(x)
  local out = self.relu(self.bn1(self.conv1(x)))
  out = self.bn2(self.conv2(out))
  local identity = self.downsample and self.downsample(x) or x
  return self.relu(out + identity)
end

local Bottleneck = torch.class('models.Bottleneck', 'nn.Module')
Bottleneck.expansion = 4

function Bottleneck:__init(inplanes, planes, stride, downsample, groups, base_width, dilation)
  nn.Module.__init(self)
  local width = math.floor(planes * (base_width / 64.0)) * groups
  self.conv1 = conv1x1(inplanes, width)
  self.bn1 = nn.BatchNorm2d(width)
  self.conv2 = conv3x3(width, width, stride, groups, dilation)
  self.bn2 = nn.BatchNorm2d(width)
  self.conv3 = conv1x1(width, planes * 4)
  self.bn3 = nn.BatchNorm2d(planes * 4)
  self.relu = nn.ReLU(true)
  self.downsample = downsample
  self.stride = stride
end

function Bottleneck:forward(x)
  local out = self.relu(self.bn1(self.conv1(x)))
  out = self.relu(self.bn2(self.conv2(out)))
  out = self.bn3(self.conv3(out))
  local identity = self.downsample and self.downsample(x) or x
  return self.relu(out + identity)
end

local ResNet = torch.class('models.ResNet', 'nn.Module')

-- models.ResNet(block, layers, o): block is models.BasicBlock or models.Bottleneck
function ResNet:__init(block, layers, o)
  nn.Module.__init(self)
  self.inplanes, self.dilation = 64, 1
  local rs = o.replace_stride_with_dilation or { false, false, false }
  if type(rs) ~= 'table' or #rs ~= 3 then
    error('ResNet: replace_stride_with_dilation should be nil or a 3-element table of booleans', 3)
  end
  self.groups, self.base_width = o.groups, o.width_per_group
  self.conv1 = nn.Conv2d(3, self.inplanes, 7, { stride = 2, padding = 3, bias = false })
  self.bn1 = nn.BatchNorm2d(self.inplanes)
  self.relu = nn.ReLU(true)
  self.maxpool = nn.MaxPool2d(3, { stride = 2, padding = 1 })
  self.layer1 = self:_make_layer(block, 64, layers[1])
  self.layer2 = self:_make_layer(block, 128, layers[2], 2, rs[1])
  self.layer3 = self:_make_layer(block, 256, layers[3], 2, rs[2])
  self.layer4 = self:_make_layer(block, 512, layers[4], 2, rs[3])
  self.avgpool = nn.AdaptiveAvgPool2d({ 1, 1 })
  self.fc = nn.Linear(512 * block.expansion, o.num_classes)
  U.init_convs_fan_out(self)
  U.init_norms(self)
  if o.zero_init_residual then
    U.each(self, Bottleneck, function(m) nn.init.zeros_(m.bn3.weight) end)
    U.each(self, BasicBlock, function(m) nn.init.zeros_(m.bn2.weight) end)
  end
end

function ResNet:_make_layer(block, planes, blocks, stride, dilate)
  stride = stride or 1
  local downsample
  local previous_dilation = self.dilation
  if dilate then
    self.dilation = self.dilation * stride
    stride = 1
  end
  if stride ~= 1 or self.inplanes ~= planes * block.expansion then
    downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
      nn.BatchNorm2d(planes * block.expansion))
  end
  local layers = { block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation) }
  self.inplanes = planes * block.expansion
  for _ = 2, blocks do
    layers[#layers + 1] = block(self.inplanes, planes, 1, nil, self.groups, self.base_width, self.dilation)
  end
  return nn.Sequential(table.unpack(layers))
end

function ResNet:forward(x)
  x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
  x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
  x = self.avgpool(x):flatten(2)
  return self.fc(x)
end

local NAMES = { 'num_classes', 'weights', 'zero_init_residual', 'groups', 'width_per_group',
  'replace_stride_with_dilation' }

local function builder(name, block, layers, groups, width)
  return function(o)
    local a = U.opts(name, o, NAMES, { num_classes = 1000, zero_init_residual = false, groups = groups or 1,
      width_per_group = width or 64 })
    return U.finish(ResNet(block, layers, a), a)
  end
end

M.resnet18 = builder('resnet18', BasicBlock, { 2, 2, 2, 2 })
M.resnet34 = builder('resnet34', BasicBlock, { 3, 4, 6, 3 })
M.resnet50 = builder('resnet50', Bottleneck, { 3, 4, 6, 3 })
M.resnet101 = builder('resnet101', Bottleneck, { 3, 4, 23, 3 })
M.resnet152 = builder('resnet152', Bottleneck, { 3, 8, 36, 3 })
M.resnext50_32x4d = builder('resnext50_32x4d', Bottleneck, { 3, 4, 6, 3 }, 32, 4)
M.resnext101_32x8d = builder('resnext101_32x8d', Bottleneck, { 3, 4, 23, 3 }, 32, 8)
M.wide_resnet50_2 = builder('wide_resnet50_2', Bottleneck, { 3, 4, 6, 3 }, 1, 128)
M.wide_resnet101_2 = builder('wide_resnet101_2', Bottleneck, { 3, 4, 23, 3 }, 1, 128)
M.ResNet, M.BasicBlock, M.Bottleneck = ResNet, BasicBlock, Bottleneck

return M
