-- ShuffleNet V2 as torchvision builds it (torchvision/models/shufflenetv2.py):
-- conv1, maxpool, stage2..4, conv5, fc; PyTorch's default layer initialisation.
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'

local M = {}

-- (N, C, H, W) -> channels interleaved across groups
local function channel_shuffle(x, groups)
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  return x:view(n, groups, c // groups, h, w):transpose(2, 3):contiguous():view(n, c, h, w)
end

local function dwconv(i, o, k, s, p)
  return nn.Conv2d(i, o, k, { stride = s, padding = p, bias = false, groups = i })
end

local Block = torch.class('models.ShuffleInvertedResidual', 'nn.Module')

function Block:__init(inp, oup, stride)
  nn.Module.__init(self)
  self.stride = stride
  local bf = oup // 2
  if stride > 1 then
    self.branch1 = nn.Sequential(dwconv(inp, inp, 3, stride, 1), nn.BatchNorm2d(inp),
      nn.Conv2d(inp, bf, 1, { bias = false }), nn.BatchNorm2d(bf), nn.ReLU(true))
  else
    self.branch1 = nn.Sequential()
  end
  self.branch2 = nn.Sequential(nn.Conv2d(stride > 1 and inp or bf, bf, 1, { bias = false }), nn.BatchNorm2d(bf),
    nn.ReLU(true), dwconv(bf, bf, 3, stride, 1), nn.BatchNorm2d(bf), nn.Conv2d(bf, bf, 1, { bias = false }),
    nn.BatchNorm2d(bf), nn.ReLU(true))
end

function Block:forward(x)
  local out
  if self.stride == 1 then
    local half = x:size(2) // 2
    out = torch.cat({ x:narrow(2, 1, half), self.branch2(x:narrow(2, half + 1, half)) }, 2)
  else
    out = torch.cat({ self.branch1(x), self.branch2(x) }, 2)
  end
  return channel_shuffle(out, 2)
end

local ShuffleNetV2 = torch.class('models.ShuffleNetV2', 'nn.Module')

function ShuffleNetV2:__init(repeats, channels, o)
  nn.Module.__init(self)
  local cin = 3
  local cout = channels[1]
  self.conv1 = nn.Sequential(nn.Conv2d(cin, cout, 3, { stride = 2, padding = 1, bias = false }),
    nn.BatchNorm2d(cout), nn.ReLU(true))
  cin = cout
  self.maxpool = nn.MaxPool2d(3, { stride = 2, padding = 1 })
  for i, r in ipairs(repeats) do
    cout = channels[i + 1]
    local seq = { Block(cin, cout, 2) }
    for _ = 2, r do seq[#seq + 1] = Block(cout, cout, 1) end
    self['stage' .. (i + 1)] = nn.Sequential(table.unpack(seq))
    cin = cout
  end
  cout = channels[#channels]
  self.conv5 = nn.Sequential(nn.Conv2d(cin, cout, 1, { bias = false }), nn.BatchNorm2d(cout), nn.ReLU(true))
  self.fc = nn.Linear(cout, o.num_classes)
end

function ShuffleNetV2:forward(x)
  x = self.maxpool(self.conv1(x))
  x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
  return self.fc(x:mean({ 3, 4 }))
end

for _, e in ipairs { { 'x0_5', { 24, 48, 96, 192, 1024 } }, { 'x1_0', { 24, 116, 232, 464, 1024 } },
  { 'x1_5', { 24, 176, 352, 704, 1024 } }, { 'x2_0', { 24, 244, 488, 976, 2048 } } } do
  local name = 'shufflenet_v2_' .. e[1]
  M[name] = function(o)
    local a = U.opts(name, o, { 'num_classes', 'weights' }, { num_classes = 1000 })
    return U.finish(ShuffleNetV2({ 4, 8, 4 }, e[2], a), a)
  end
end
M.ShuffleNetV2 = ShuffleNetV2

return M
