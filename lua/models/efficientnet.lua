-- EfficientNet-B0 as torchvision builds it (torchvision/models/efficientnet.py):
-- MBConv blocks with squeeze-excitation and stochastic depth (active in training
-- only, 'row' mode), features / avgpool / classifier.
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'
local SE = require('models.mobilenet').SqueezeExcitation

local M = {}

-- torchvision.ops.StochasticDepth(p, 'row'): in training, drops whole samples of
-- the residual branch with probability p and rescales the others by 1/(1-p)
local StochasticDepth = torch.class('models.StochasticDepth', 'nn.Module')

function StochasticDepth:__init(p, mode)
  nn.Module.__init(self)
  self.p, self.mode = p, mode or 'row'
end

function StochasticDepth:forward(x)
  if not self.training or self.p == 0 then return x end
  local survival = 1 - self.p
  local shape = { x:size(1) }
  if self.mode == 'row' then for _ = 2, x:dim() do shape[#shape + 1] = 1 end else shape = { 1 } end
  local noise = torch.empty(shape, { dtype = x.dtype }):bernoulli_(survival)
  if survival > 0 then noise:div_(survival) end
  return x * noise
end

function StochasticDepth:extra_repr() return ('p=%s, mode=%s'):format(self.p, self.mode) end
M.StochasticDepth = StochasticDepth

local MBConv = torch.class('models.MBConv', 'nn.Module')

-- cnf: {expand_ratio, kernel, stride, input_channels, out_channels}
function MBConv:__init(cnf, sd_prob)
  nn.Module.__init(self)
  local er, k, stride, cin, cout = table.unpack(cnf)
  self.use_res_connect = stride == 1 and cin == cout
  local exp = U.make_divisible(cin * er, 8)
  local layers = {}
  if exp ~= cin then layers[#layers + 1] = U.conv_norm_act(cin, exp, 1, { act = nn.SiLU }) end
  layers[#layers + 1] = U.conv_norm_act(exp, exp, k, { stride = stride, groups = exp, act = nn.SiLU })
  layers[#layers + 1] = SE(exp, math.max(1, cin // 4), nn.SiLU, nn.Sigmoid)
  layers[#layers + 1] = U.conv_norm_act(exp, cout, 1, { act = false })
  self.block = nn.Sequential(table.unpack(layers))
  self.stochastic_depth = StochasticDepth(sd_prob, 'row')
  self.out_channels = cout
end

function MBConv:forward(x)
  local r = self.block(x)
  if self.use_res_connect then r = self.stochastic_depth(r) + x end
  return r
end

local EfficientNet = torch.class('models.EfficientNet', 'nn.Module')

-- setting: {expand_ratio, kernel, stride, in, out, num_layers} per stage
function EfficientNet:__init(setting, dropout, o, last_channel)
  nn.Module.__init(self)
  local layers = { U.conv_norm_act(3, setting[1][4], 3, { stride = 2, act = nn.SiLU }) }
  local total = 0
  for _, s in ipairs(setting) do total = total + s[6] end
  local id = 0
  for _, s in ipairs(setting) do
    local stage = {}
    for i = 1, s[6] do
      local cnf = { s[1], s[2], s[3], s[4], s[5] }
      if i > 1 then cnf[4], cnf[3] = s[5], 1 end
      stage[#stage + 1] = MBConv(cnf, o.stochastic_depth_prob * id / total)
      id = id + 1
    end
    layers[#layers + 1] = nn.Sequential(table.unpack(stage))
  end
  local lci = setting[#setting][5]
  local lco = last_channel or 4 * lci
  layers[#layers + 1] = U.conv_norm_act(lci, lco, 1, { act = nn.SiLU })
  self.features = nn.Sequential(table.unpack(layers))
  self.avgpool = nn.AdaptiveAvgPool2d(1)
  self.classifier = nn.Sequential(nn.Dropout(dropout, true), nn.Linear(lco, o.num_classes))
  U.each(self, nn.Conv2d, function(m)
    nn.init.kaiming_normal_(m.weight, { mode = 'fan_out' })
    if m.bias then nn.init.zeros_(m.bias) end
  end)
  U.init_norms(self)
  U.each(self, nn.Linear, function(m)
    local r = 1.0 / math.sqrt(m.out_features)
    nn.init.uniform_(m.weight, -r, r)
    nn.init.zeros_(m.bias)
  end)
end

function EfficientNet:forward(x)
  x = self.avgpool(self.features(x)):flatten(2)
  return self.classifier(x)
end

function M.efficientnet_b0(o)
  local a = U.opts('efficientnet_b0', o, { 'num_classes', 'weights', 'dropout', 'stochastic_depth_prob' },
    { num_classes = 1000, dropout = 0.2, stochastic_depth_prob = 0.2 })
  local setting = { { 1, 3, 1, 32, 16, 1 }, { 6, 3, 2, 16, 24, 2 }, { 6, 5, 2, 24, 40, 2 }, { 6, 3, 2, 40, 80, 3 },
    { 6, 5, 1, 80, 112, 3 }, { 6, 5, 2, 112, 192, 4 }, { 6, 3, 1, 192, 320, 1 } }
  return U.finish(EfficientNet(setting, a.dropout, a), a)
end
M.EfficientNet, M.MBConv = EfficientNet, MBConv

return M
