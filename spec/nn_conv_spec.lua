-- Convolution modules (lua/nn/conv.lua) over F.conv*: parameters and their
-- initialisation, padding modes, printing, errors, and the tutorials' Inception
-- block. The convolution math itself is checked against PyTorch in conv_spec.lua.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

describe('nn.Conv*', function()
  it('have PyTorch parameter names, shapes and bounds', function()
    torch.manual_seed(0)
    local c = nn.Conv2d(3, 16, 5, { groups = 1 })
    local sd = c:state_dict()
    assert.are.same({ 16, 3, 5, 5 }, { table.unpack(sd.weight:size()) })
    assert.are.same({ 16 }, { table.unpack(sd.bias:size()) })
    local bound = 1 / math.sqrt(3 * 25)
    assert.is_true(c.weight:abs():max():item() <= bound + 1e-6)
    assert.is_true(c.bias:abs():max():item() <= bound + 1e-6)
    local t = nn.ConvTranspose2d(8, 4, 3, { groups = 2 })
    assert.are.same({ 8, 2, 3, 3 }, { table.unpack(t.weight:size()) })
    assert.is_nil(nn.Conv1d(2, 4, 3, { bias = false }).bias)
    assert.are.same({ 6, 2, 3, 3, 3 }, { table.unpack(nn.Conv3d(2, 6, 3).weight:size()) })
  end)

  it('compute what F.conv* computes, padding modes through F.pad', function()
    local x = torch.randn(2, 3, 7, 6, { dtype = 'float64' })
    local c = nn.Conv2d(3, 4, 3, { stride = 2, padding = 1, dilation = 1 }):double()
    H.assert_close(c(x), F.conv2d(x, c.weight, c.bias, { stride = 2, padding = 1 }), { rtol = 1e-12, atol = 1e-12 })
    for _, mode in ipairs { 'reflect', 'replicate', 'circular' } do
      local m = nn.Conv2d(3, 4, 3, { padding = { 1, 2 }, padding_mode = mode }):double()
      local want = F.conv2d(F.pad(x, { 2, 2, 1, 1 }, mode), m.weight, m.bias)
      H.assert_close(m(x), want, { rtol = 1e-12, atol = 1e-12 })
    end
    local same = nn.Conv1d(2, 2, 4, { padding = 'same', padding_mode = 'reflect' }):double()
    local x1 = torch.randn(1, 2, 9, { dtype = 'float64' })
    assert.are.equal(9, same(x1):size(3))
    local tr = nn.ConvTranspose2d(3, 2, 3, { stride = 2, padding = 1, output_padding = 1 }):double()
    assert.are.same({ 2, 2, 14, 12 }, { table.unpack(tr(x):size()) })
  end)

  it('train end to end: gradients reach weights, bias and input', function()
    local c = nn.Conv2d(2, 3, 3, { padding = 1 }):double()
    local x = torch.randn(2, 2, 5, 5, { dtype = 'float64', requires_grad = true })
    c(x):pow(2):sum():backward()
    assert.is_not_nil(c.weight.grad)
    assert.is_not_nil(c.bias.grad)
    assert.are.same({ 2, 2, 5, 5 }, { table.unpack(x.grad:size()) })
    assert.is_true(torch.autograd.gradcheck(function(inp) return c(inp) end,
      { torch.randn(1, 2, 4, 4, { dtype = 'float64', requires_grad = true }) }))
  end)

  it('print like PyTorch and refuse bad arguments', function()
    assert.are.equal('Conv2d(1, 10, kernel_size=(5, 5), stride=(1, 1))', tostring(nn.Conv2d(1, 10, 5)))
    assert.are.equal('Conv2d(16, 33, kernel_size=(3, 5), stride=(2, 1), padding=(4, 2), dilation=(3, 1))',
      tostring(nn.Conv2d(16, 33, { 3, 5 }, { 2, 1 }, { 4, 2 }, { 3, 1 })))
    assert.are.equal("Conv1d(4, 4, kernel_size=(3,), stride=(1,), padding='same', groups=2, bias=false)",
      tostring(nn.Conv1d(4, 4, 3, { padding = 'same', groups = 2, bias = false })))
    H.assert_error(function() nn.Conv2d(3, 4, 3, { groups = 2 }) end, 'in_channels must be divisible by groups')
    H.assert_error(function() nn.Conv2d(3, 4, 0) end, 'kernel_size must hold integers >= 1')
    H.assert_error(function() nn.Conv2d(3, 4, 3, { padding_mode = 'mirror' }) end, 'padding_mode must be')
    H.assert_error(function() nn.Conv2d(3, 4, 3, { stride = 2, padding = 'same' }) end, 'strided')
    H.assert_error(function() nn.Conv2d(3, 4, 3, { kernel = 3 }) end, 'unknown option \'kernel\'')
    H.assert_error(function() nn.Conv2d(3, 4, 3)(torch.randn(1, 2, 8, 8)) end, 'conv2d')
  end)
end)

describe("the tutorials' Inception block", function()
  local Inception, parent = torch.class('spec.InceptionA', 'nn.Module')
  function Inception:__init(in_channels)
    parent.__init(self)
    self.branch1x1 = nn.Conv2d(in_channels, 16, 1)
    self.branch5x5_1 = nn.Conv2d(in_channels, 16, 1)
    self.branch5x5_2 = nn.Conv2d(16, 24, 5, { padding = 2 })
    self.branch3x3_1 = nn.Conv2d(in_channels, 16, 1)
    self.branch3x3_2 = nn.Conv2d(16, 24, 3, { padding = 1 })
    self.branch3x3_3 = nn.Conv2d(24, 24, 3, { padding = 1 })
    self.branch_pool = nn.Conv2d(in_channels, 24, 1)
  end
  function Inception:forward(x)
    local b1 = self.branch1x1(x)
    local b5 = self.branch5x5_2(self.branch5x5_1(x))
    local b3 = self.branch3x3_3(self.branch3x3_2(self.branch3x3_1(x)))
    local bp = self.branch_pool(F.avg_pool2d(x, 3, { stride = 1, padding = 1 }))
    return torch.cat({ b1, b5, b3, bp }, 2)
  end

  it('concatenates four branches into 88 channels and trains', function()
    torch.manual_seed(1)
    local net = nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(), Inception(10))
    local x = torch.randn(2, 1, 28, 28)
    local y = net(x)
    assert.are.same({ 2, 88, 12, 12 }, { table.unpack(y:size()) })
    y:mean():backward()
    local n = 0
    for _, p in ipairs(net:parameters()) do
      assert.is_not_nil(p.grad)
      n = n + 1
    end
    assert.are.equal(16, n)
  end)
end)
