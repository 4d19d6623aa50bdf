-- nn.Module, containers, nn.init and nn.utils: registration in assignment order,
-- names, state dicts, hooks, modes, freezing, sharing, printing, and the
-- tutorials' custom-layer programs.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
local H = require 'spec.support.helpers'

local function names(list)
  local res = {}
  for i, e in ipairs(list) do res[i] = e[1] end
  return res
end

local function sd_keys(sd)
  local res = {}
  for k in pairs(sd) do res[#res + 1] = k end
  return res
end

-- the tutorials' MLP: hidden, act, out
local MLP, MLPparent = torch.class('SpecMLP', 'nn.Module')
function MLP:__init()
  MLPparent.__init(self)
  self.hidden = nn.Linear(20, 256)
  self.act = nn.ReLU()
  self.out = nn.Linear(256, 10)
end
function MLP:forward(x) return self.out(self.act(self.hidden(x))) end

describe('nn.Module', function()
  it('registers children, parameters and buffers in assignment order', function()
    local net = MLP()
    assert.are.same({ 'hidden', 'act', 'out' }, names(net:named_children()))
    assert.are.same({ 'hidden.weight', 'hidden.bias', 'out.weight', 'out.bias' }, names(net:named_parameters()))
    assert.are.equal(4, #net:parameters())
    assert.are.same({ '', 'hidden', 'act', 'out' }, names(net:named_modules()))
    assert.are.same({ 2, 10 }, net(torch.rand(2, 20)):size())
    -- generic for over the named lists
    local seen = {}
    for name, p in net:named_parameters() do seen[#seen + 1] = name .. ':' .. p:dim() end
    assert.are.same({ 'hidden.weight:2', 'hidden.bias:1', 'out.weight:2', 'out.bias:1' }, seen)
  end)

  it('own parameters come before children, buffers are separate, plain tensors are not registered', function()
    local M, parent = torch.class('SpecOrder', 'nn.Module')
    function M:__init()
      parent.__init(self)
      self.z = nn.Parameter(torch.zeros(2))
      self.block = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
      self.a = nn.Parameter(torch.ones(1))
      self.const = torch.ones(3) -- not registered
      self:register_buffer('running', torch.zeros(2))
      self:register_buffer('tmp', torch.zeros(1), { persistent = false })
    end
    local m = M()
    assert.are.same({ 'z', 'a', 'block.1.weight', 'block.1.bias', 'block.3.weight', 'block.3.bias' },
      names(m:named_parameters()))
    assert.are.same({ 'running', 'tmp' }, names(m:named_buffers()))
    assert.are.same({ 'z', 'a', 'running', 'block.1.weight', 'block.1.bias', 'block.3.weight', 'block.3.bias' },
      sd_keys(m:state_dict()))
    assert.are.same({ 'z', 'a' }, names(m:named_parameters({ recurse = false })))
    assert.is_true(nn.is_parameter(m.z))
    assert.is_true(torch.isTensor(m.z))
    assert.is_false(nn.is_parameter(m.const))
    assert.is_true(m.z.requires_grad and m.z.is_leaf)
    -- register_* variants and bad names
    m:register_parameter('extra', torch.ones(2))
    assert.is_true(nn.is_parameter(m.extra))
    m:register_module('head', nn.Linear(1, 1))
    assert.are.equal('head', names(m:named_children())[2])
    H.assert_error(function() m:register_buffer('a.b', torch.ones(1)) end, 'name cannot contain "."')
    H.assert_error(function() m:register_module('x', 3) end, 'expected an nn.Module')
    H.assert_error(function() m:register_parameter('forward', torch.ones(1)) end, 'is the name of a method')
  end)

  it('shares a parameter once and a reused module accumulates both gradients', function()
    local shared = nn.Linear(4, 4)
    local net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), shared, nn.ReLU(), shared, nn.Linear(4, 1))
    assert.are.equal(6, #net:parameters()) -- shared counted once
    assert.are.same({ '1.weight', '1.bias', '3.weight', '3.bias', '6.weight', '6.bias' }, names(net:named_parameters()))
    assert.are.equal(8, #sd_keys(net:state_dict())) -- state dict lists both uses
    assert.is_not_nil(net:state_dict()["5.weight"])
    local x = torch.randn(3, 2)
    net(x):sum():backward()
    -- the gradient is the sum over both uses: recompute with two copies
    local a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    a:load_state_dict(shared:state_dict())
    b:load_state_dict(shared:state_dict())
    local net2 = nn.Sequential(net[1], nn.ReLU(), a, nn.ReLU(), b, net[6])
    net2(x):sum():backward()
    H.assert_close(shared.weight.grad, a.weight.grad + b.weight.grad, { rtol = 1e-5, atol = 1e-6 })
    assert.is_true(shared.weight.grad:abs():sum():item() > 0)
  end)

  it('state_dict round trip and load_state_dict errors by name', function()
    local a, b = MLP(), MLP()
    local sd = a:state_dict()
    assert.is_nil(sd['hidden.weight'].grad_fn)
    assert.is_false(sd['hidden.weight'].requires_grad)
    local r = b:load_state_dict(sd)
    assert.are.same({}, r.missing_keys)
    local x = torch.randn(3, 20)
    H.assert_close(b(x), a(x))
    -- copies, not aliases
    torch.no_grad(function() a.hidden.weight:add_(1) end)
    assert.is_false(torch.equal(a.hidden.weight, b.hidden.weight))
    -- missing, unexpected, mismatched
    local bad = {}
    for k, v in pairs(b:state_dict()) do bad[k] = v end
    bad['out.bias'] = nil
    bad['extra.weight'] = torch.ones(1)
    local err = H.assert_error(function() b:load_state_dict(bad) end, 'Missing key(s) in state_dict: "out.bias"')
    assert.truthy(err:find('Unexpected key(s) in state_dict: "extra.weight"', 1, true))
    assert.truthy(err:find('SpecMLP', 1, true))
    local res = b:load_state_dict(bad, { strict = false })
    assert.are.same({ 'out.bias' }, res.missing_keys)
    assert.are.same({ 'extra.weight' }, res.unexpected_keys)
    bad['out.bias'] = torch.zeros(3)
    H.assert_error(function() b:load_state_dict(bad, { strict = false }) end,
      'size mismatch for out.bias: copying a param with shape {3} from checkpoint, the shape in current model is {10}')
    H.assert_error(function() b:load_state_dict(5) end, 'load_state_dict: expected a table')
  end)

  it('buffers are saved unless non-persistent, and converted by to()', function()
    local m = nn.Module()
    m:register_buffer('mean', torch.zeros(3))
    m:register_buffer('count', torch.tensor(0))
    m:register_buffer('scratch', torch.zeros(2), false)
    m.w = nn.Parameter(torch.ones(2))
    assert.are.same({ 'w', 'mean', 'count' }, sd_keys(m:state_dict()))
    m:double()
    assert.are.equal('float64', m.mean.dtype)
    assert.are.equal('float64', m.w.dtype)
    assert.are.equal('int64', m.count.dtype) -- integer buffers keep their dtype
    assert.is_true(nn.is_parameter(m.w) and m.w.requires_grad)
    m:to({ dtype = 'float32' })
    assert.are.equal('float32', m.w.dtype)
    m:to('float64'):float()
    assert.are.equal('float32', m.mean.dtype)
    H.assert_error(function() m:to('int64') end, 'floating point dtype')
  end)

  it('to() keeps shared parameters shared', function()
    local l = nn.Linear(2, 2)
    local net = nn.Sequential(l, l)
    net:double()
    assert.is_true(rawequal(net[1].weight, net[2].weight))
    assert.are.equal('float64', net[1].weight.dtype)
  end)

  it('cuda() errors clearly without a GPU', function()
    if torch.cuda.is_available() then return end
    H.assert_error(function() MLP():cuda() end, 'cuda: no GPU is available')
    H.assert_error(function() MLP():to('cuda') end, 'cuda: no GPU is available')
  end)

  it('train / eval reach every module; requires_grad_ freezes', function()
    local net = MLP()
    assert.is_true(net.training and net.hidden.training)
    assert.are.equal(net, net:eval())
    assert.is_false(net.training or net.hidden.training or net.act.training)
    net:train()
    assert.is_true(net.out.training)
    net:train(false)
    assert.is_false(net.out.training)
    net.hidden:requires_grad_(false)
    assert.is_false(net.hidden.weight.requires_grad)
    net(torch.randn(2, 20)):sum():backward()
    assert.is_nil(net.hidden.weight.grad)
    assert.is_not_nil(net.out.weight.grad)
    net:requires_grad_()
    assert.is_true(net.hidden.weight.requires_grad)
  end)

  it('zero_grad sets gradients to nil by default, or zeros', function()
    local net = MLP()
    net(torch.randn(2, 20)):sum():backward()
    net:zero_grad({ set_to_none = false })
    assert.are.equal(0, net.out.weight.grad:abs():sum():item())
    net(torch.randn(2, 20)):sum():backward()
    net:zero_grad()
    assert.is_nil(net.out.weight.grad)
  end)

  it('forward pre-hooks and hooks see and replace inputs and outputs; handles remove', function()
    local net = nn.Linear(3, 2)
    local calls = {}
    local h1 = net:register_forward_pre_hook(function(m, input)
      calls[#calls + 1] = 'pre'
      assert.are.equal(net, m)
      return input[1] * 0
    end)
    local h2 = net:register_forward_hook(function(_, input, output)
      calls[#calls + 1] = 'post'
      assert.are.equal(0, input[1]:abs():sum():item())
      return output + 1
    end)
    local y = net(torch.ones(1, 3))
    H.assert_close(y, net.bias:detach():reshape(1, 2) + 1)
    assert.are.same({ 'pre', 'post' }, calls)
    h1:remove()
    h2:remove()
    local x = torch.ones(1, 3)
    H.assert_close(net(x), F.linear(x, net.weight, net.bias))
    assert.are.equal(2, #calls)
    H.assert_error(function() net:register_forward_hook(3) end, 'expected a function')
  end)

  it('full backward hooks get grad_input and grad_output and may replace grad_input', function()
    local lin = nn.Linear(3, 2)
    local seen
    local h = lin:register_full_backward_hook(function(m, gin, gout)
      seen = { m = m, gin = gin[1], gout = gout[1] }
      return { gin[1] * 2 }
    end)
    local x = torch.randn(4, 3, { requires_grad = true })
    local y = lin(x)
    local g = torch.randn(4, 2)
    y:backward(g)
    assert.are.equal(lin, seen.m)
    H.assert_close(seen.gout, g)
    H.assert_close(seen.gin, g:mm(lin.weight:detach()), { atol = 1e-6 })
    H.assert_close(x.grad, g:mm(lin.weight:detach()) * 2, { atol = 1e-6 })
    -- an input that needs no grad: the hook still runs, with no grad_input
    local ran = false
    lin:register_full_backward_hook(function(_, gin, gout)
      ran = true
      assert.is_nil(gin[1])
      assert.is_not_nil(gout[1])
    end)
    h:remove()
    lin(torch.randn(2, 3)):sum():backward()
    assert.is_true(ran)
  end)

  it('apply visits children first; modules() lists each once', function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))
    local order = {}
    net:apply(function(m) order[#order + 1] = torch.type(m) end)
    assert.are.same({ 'nn.Linear', 'nn.ReLU', 'nn.Linear', 'nn.Sequential', 'nn.Sequential' }, order)
    assert.are.equal(5, #net:modules())
    assert.are.same({ '', '1', '2', '2.1', '2.2' }, names(net:named_modules()))
    assert.are.equal(net[2][2], net:get_submodule('2.2'))
  end)

  it('prints the tree like PyTorch', function()
    local net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), MLP())
    local expected = table.concat({
      'Sequential(',
      '  (1): Linear(in_features=20, out_features=256, bias=true)',
      '  (2): ReLU()',
      '  (3): SpecMLP(',
      '    (hidden): Linear(in_features=20, out_features=256, bias=true)',
      '    (act): ReLU()',
      '    (out): Linear(in_features=256, out_features=10, bias=true)',
      '  )',
      ')',
    }, '\n')
    assert.are.equal(expected, tostring(net))
    assert.are.equal('Sequential()', tostring(nn.Sequential()))
    -- extra_repr of a custom module
    local E, ep = torch.class('SpecExtra', 'nn.Module')
    function E:__init() ep.__init(self); self.k = 3; self.lin = nn.Linear(1, 1) end
    function E:extra_repr() return 'k=' .. self.k end
    assert.are.equal('SpecExtra(\n  k=3\n  (lin): Linear(in_features=1, out_features=1, bias=true)\n)', tostring(E()))
    H.assert_error(function() nn.Module()(1) end, 'Module: forward is not implemented')
  end)
end)

describe('nn containers', function()
  it('Sequential: varargs, add, indexing, length, insert, remove, iteration', function()
    local net = nn.Sequential():add(nn.Linear(4, 3)):add(nn.ReLU())
    net:add(nn.Linear(3, 2))
    assert.are.equal(3, #net)
    assert.are.equal('nn.ReLU', torch.type(net[2]))
    assert.are.equal('nn.Linear', torch.type(net[-1] or net:get(-1)))
    assert.are.same({ 5, 2 }, net(torch.randn(5, 4)):size())
    net:insert(2, nn.Tanh())
    assert.are.same({ 'nn.Linear', 'nn.Tanh', 'nn.ReLU', 'nn.Linear' },
      (function() local r = {} for i, m in ipairs(net) do r[i] = torch.type(m) end return r end)())
    local removed = net:remove(2)
    assert.are.equal('nn.Tanh', torch.type(removed))
    assert.are.equal(3, #net)
    net:insert(nn.Sigmoid()) -- Torch7 order: module [, index]
    assert.are.equal('nn.Sigmoid', torch.type(net[4]))
    net:remove()
    assert.are.same({ '1.weight', '1.bias', '3.weight', '3.bias' }, names(net:named_parameters()))
    local n = 0
    for i, m in pairs(net) do
      n = n + 1
      assert.are.equal(net[i], m)
    end
    assert.are.equal(3, n)
    H.assert_error(function() nn.Sequential(nn.ReLU(), 3) end, 'Sequential: expected an nn.Module, got number')
    H.assert_error(function() net:remove(7) end, 'index 7 is out of range (1..3)')
  end)

  it('Sequential from named pairs (PyTorch OrderedDict): names in state dicts, access by name', function()
    local net = nn.Sequential { { 'conv1', nn.Conv2d(1, 2, 3) }, { 'act', nn.ReLU() }, { 'flat', nn.Flatten() } }
    assert.are.same({ 'conv1.weight', 'conv1.bias' }, names(net:named_parameters()))
    assert.are.equal(net[1], net.conv1)
    assert.are.equal(net.conv1, net:get_submodule('conv1'))
    assert.are.equal('Sequential(\n  (conv1): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n  (act): ReLU()\n' ..
      '  (flat): Flatten(start_dim=2, end_dim=-1)\n)', tostring(net))
    assert.are.same({ 1, 18 }, net(torch.randn(1, 1, 5, 5)):size())
    net.act = nn.Tanh() -- replaces the named position
    assert.are.equal('nn.Tanh', torch.type(net[2]))
    assert.are.equal(3, #net)
    net:insert(1, nn.Identity())
    assert.are.same({ '1', 'conv1', 'act', 'flat' }, names(net:named_children()))
    net:remove(2)
    assert.are.same({ '1', 'act', 'flat' }, names(net:named_children()))
    assert.is_nil(net.conv1)
    local other = nn.Sequential { { 'conv1', nn.Conv2d(1, 2, 3) }, { 'act', nn.ReLU() } }
    local sd = other:state_dict()
    local fresh = nn.Sequential { { 'conv1', nn.Conv2d(1, 2, 3) }, { 'act', nn.ReLU() } }
    fresh:load_state_dict(sd)
    assert.is_true(torch.equal(fresh.conv1.weight, other.conv1.weight))
    local Sub = torch.class('SpecNamedSeq', 'nn.Sequential') -- names reach subclasses too
    assert.are.equal('nn.ReLU', torch.type(Sub { { 'act', nn.ReLU() } }.act))
    H.assert_error(function() nn.Sequential { { 'a', nn.ReLU() }, { 'a', nn.ReLU() } } end, 'name "a" is given twice')
    H.assert_error(function() nn.Sequential { { 'forward', nn.ReLU() } } end, 'is reserved')
    H.assert_error(function() nn.Sequential { { 'x.y', nn.ReLU() } } end, 'bad name "x.y"')
    H.assert_error(function() nn.Sequential { nn.ReLU() } end, 'item 1 of a named list must be a {name, module} pair')
  end)

  it('ModuleList and ModuleDict register their modules', function()
    local L, parent = torch.class('SpecListNet', 'nn.Module')
    function L:__init()
      parent.__init(self)
      self.layers = nn.ModuleList({ nn.Linear(2, 2), nn.Linear(2, 2) })
      self.layers:append(nn.Linear(2, 1))
      self.heads = nn.ModuleDict({ { 'b', nn.Linear(1, 1) }, { 'a', nn.Linear(1, 1) } })
    end
    function L:forward(x)
      for _, l in ipairs(self.layers) do x = l(x) end
      return self.heads.a(x) + self.heads:get('b')(x)
    end
    local net = L()
    assert.are.same({ 'layers.1.weight', 'layers.1.bias', 'layers.2.weight', 'layers.2.bias', 'layers.3.weight',
      'layers.3.bias', 'heads.b.weight', 'heads.b.bias', 'heads.a.weight', 'heads.a.bias' }, names(net:named_parameters()))
    assert.are.same({ 4, 1 }, net(torch.randn(4, 2)):size())
    assert.are.equal(3, #net.layers)
    assert.are.same({ 'b', 'a' }, net.heads:keys())
    assert.are.equal(2, #net.heads)
    net.heads:pop('b')
    assert.are.same({ 'a' }, net.heads:keys())
    H.assert_error(function() net.layers(torch.randn(1)) end, 'ModuleList: has no forward')
    H.assert_error(function() nn.ModuleDict():set('keys', nn.ReLU()) end, 'is reserved')
  end)

  it('ParameterList and ParameterDict hold parameters', function()
    local pl = nn.ParameterList({ torch.ones(2), nn.Parameter(torch.zeros(3)) })
    assert.are.equal(2, #pl)
    assert.is_true(nn.is_parameter(pl[1]) and pl[1].requires_grad)
    assert.are.same({ '1', '2' }, names(pl:named_parameters()))
    local pd = nn.ParameterDict({ w = torch.ones(2, 2), b = torch.zeros(2) })
    assert.are.same({ 'b', 'w' }, names(pd:named_parameters()))
    pd:set('c', torch.ones(1))
    assert.are.equal(3, #pd:parameters())
    assert.truthy(tostring(pl):find('(1): Parameter containing: [torch.FloatTensor of size 2]', 1, true))
  end)
end)

describe('custom layers from the tutorials', function()
  it('CenteredLayer', function()
    local C, parent = torch.class('SpecCentered', 'nn.Module')
    function C:__init() parent.__init(self) end
    function C:forward(X) return X - X:mean() end
    local layer = C()
    H.assert_close(layer(torch.tensor { 1.0, 2.0, 3.0, 4.0, 5.0 }), { -2, -1, 0, 1, 2 })
    local net = nn.Sequential(nn.Linear(8, 128), C())
    local Y = net(torch.rand(4, 8))
    assert.is_true(math.abs(Y:mean():item()) < 1e-5)
  end)

  it('MySequential', function()
    local S, parent = torch.class('SpecMySequential', 'nn.Module')
    function S:__init(...)
      parent.__init(self)
      for i, m in ipairs({ ... }) do self[tostring(i)] = m end
    end
    function S:forward(X)
      for _, m in ipairs(self:children()) do X = m(X) end
      return X
    end
    local net = S(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    assert.are.same({ 2, 10 }, net(torch.rand(2, 20)):size())
    assert.are.same({ '1.weight', '1.bias', '3.weight', '3.bias' }, names(net:named_parameters()))
  end)

  it('FixedHiddenMLP: constant tensor, a reused layer and a while loop', function()
    local M, parent = torch.class('SpecFixedHiddenMLP', 'nn.Module')
    function M:__init()
      parent.__init(self)
      self.rand_weight = torch.rand(20, 20) -- a constant: not a parameter
      self.linear = nn.Linear(20, 20)
    end
    function M:forward(X)
      X = self.linear(X)
      X = F.relu(X:mm(self.rand_weight) + 1)
      X = self.linear(X) -- the same layer again: shared parameters
      while X:abs():sum():item() > 1 do X = X / 2 end
      return X:sum()
    end
    local net = M()
    assert.are.equal(2, #net:parameters())
    local out = net(torch.rand(2, 20))
    assert.are.equal(0, out:dim())
    assert.is_true(math.abs(out:item()) <= 1)
    out:backward()
    assert.is_not_nil(net.linear.weight.grad)
    -- nested: NestMLP inside a Sequential
    local chimera = nn.Sequential(nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU()),
      nn.Linear(32, 20), M())
    assert.are.equal(0, chimera(torch.rand(2, 20)):dim())
    assert.are.equal('1.1.weight', names(chimera:named_parameters())[1])
  end)

  it('parameter initialisation with net:apply(init_fn)', function()
    local net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    net:apply(function(m)
      if torch.type(m) == 'nn.Linear' then
        nn.init.normal_(m.weight, { mean = 0, std = 0.01 })
        nn.init.zeros_(m.bias)
      end
    end)
    assert.are.equal(0, net[1].bias:abs():sum():item())
    assert.is_true(net[1].weight:abs():max():item() < 0.1)
    net:apply(function(m)
      if torch.type(m) == 'nn.Linear' then
        nn.init.constant_(m.weight, 1)
      end
    end)
    assert.are.equal(32, net[1].weight:sum():item())
    net[1]:apply(function(m) nn.init.xavier_uniform_(m.weight) end)
    net[3]:apply(function(m) nn.init.constant_(m.weight, 42) end)
    assert.are.equal(42, net[3].weight[1][1]:item())
    assert.is_true(net[1].weight.requires_grad and net[1].weight.is_leaf)
  end)

  it('the residual block with existing ops', function()
    local R, parent = torch.class('SpecResidual', 'nn.Module')
    function R:__init(n)
      parent.__init(self)
      self.fc1 = nn.Linear(n, n)
      self.fc2 = nn.Linear(n, n)
    end
    function R:forward(X)
      local Y = F.relu(self.fc1(X))
      Y = self.fc2(Y)
      return F.relu(Y + X)
    end
    local net = nn.Sequential(R(6), R(6), nn.Linear(6, 1))
    local x = torch.randn(5, 6)
    local y = net(x)
    assert.are.same({ 5, 1 }, y:size())
    y:sum():backward()
    for _, p in ipairs(net:parameters()) do assert.is_not_nil(p.grad) end
    assert.are.same({ '1.fc1.weight', '1.fc1.bias', '1.fc2.weight', '1.fc2.bias' },
      { table.unpack(names(net:named_parameters()), 1, 4) })
    -- gradcheck through the whole block in float64
    local blk = R(3):double()
    local xd = torch.randn(2, 3, { dtype = 'float64', requires_grad = true })
    assert.is_true(torch.autograd.gradcheck(function(a) return blk(a) end, { xd }))
  end)
end)

describe('nn.init', function()
  it('calculate_gain', function()
    assert.are.equal(1, nn.init.calculate_gain('linear'))
    assert.are.equal(1, nn.init.calculate_gain('conv2d'))
    assert.are.equal(5 / 3, nn.init.calculate_gain('tanh'))
    assert.are.equal(math.sqrt(2), nn.init.calculate_gain('relu'))
    assert.is_true(math.abs(nn.init.calculate_gain('leaky_relu', 0.2) - math.sqrt(2 / 1.04)) < 1e-12)
    assert.are.equal(0.75, nn.init.calculate_gain('selu'))
    H.assert_error(function() nn.init.calculate_gain('swish') end, 'unsupported nonlinearity swish')
  end)

  it('uniform_, normal_, constant_, ones_, zeros_ statistics', function()
    torch.manual_seed(1)
    local t = torch.empty(200, 200)
    nn.init.uniform_(t, -2, 3)
    assert.is_true(t:min():item() >= -2 and t:max():item() <= 3)
    assert.is_true(math.abs(t:mean():item() - 0.5) < 0.03)
    nn.init.normal_(t, { mean = 1, std = 2 })
    assert.is_true(math.abs(t:mean():item() - 1) < 0.03)
    assert.is_true(math.abs(t:std():item() - 2) < 0.03)
    assert.are.equal(7, nn.init.constant_(t, 7):mean():item())
    assert.are.equal(1, nn.init.ones_(t):min():item())
    assert.are.equal(0, nn.init.zeros_(t):abs():max():item())
    -- works on parameters without recording
    local p = nn.Parameter(torch.empty(3, 3))
    nn.init.normal_(p)
    assert.is_true(p.is_leaf and p.grad_fn == nil)
  end)

  it('xavier and kaiming bounds and std', function()
    torch.manual_seed(2)
    local t = torch.empty(300, 100)
    local fin, fout = 100, 300
    nn.init.xavier_uniform_(t, 2)
    local bound = 2 * math.sqrt(6 / (fin + fout))
    assert.is_true(t:abs():max():item() <= bound and t:abs():max():item() > 0.98 * bound)
    nn.init.xavier_normal_(t)
    assert.is_true(math.abs(t:std():item() / math.sqrt(2 / (fin + fout)) - 1) < 0.03)
    nn.init.kaiming_uniform_(t, { nonlinearity = 'relu' })
    local kb = math.sqrt(2) * math.sqrt(3 / fin)
    assert.is_true(t:abs():max():item() <= kb and t:abs():max():item() > 0.98 * kb)
    nn.init.kaiming_normal_(t, { mode = 'fan_out', nonlinearity = 'relu' })
    assert.is_true(math.abs(t:std():item() / (math.sqrt(2) / math.sqrt(fout)) - 1) < 0.03)
    local c = torch.empty(8, 4, 3, 3) -- fan_in 36
    nn.init.kaiming_uniform_(c, math.sqrt(5))
    assert.is_true(c:abs():max():item() <= 1 / 6)
    H.assert_error(function() nn.init.xavier_uniform_(torch.empty(5)) end, 'fewer than 2 dimensions')
    H.assert_error(function() nn.init.kaiming_normal_(t, { mode = 'fan' }) end, "mode must be 'fan_in' or 'fan_out'")
  end)

  it('trunc_normal_ stays within [a, b]', function()
    local t = nn.init.trunc_normal_(torch.empty(10000), { mean = 0.5, std = 1, a = -1, b = 1.5 })
    assert.is_true(t:min():item() >= -1 and t:max():item() <= 1.5)
    assert.is_true(t:std():item() > 0.4)
  end)

  it('orthogonal_ is orthogonal (tall, wide, 4-d, gain)', function()
    local eye = function(n) return torch.eye(n) end
    local w = nn.init.orthogonal_(torch.empty(6, 4))
    H.assert_close(w:t():mm(w), eye(4), { atol = 1e-5 })
    w = nn.init.orthogonal_(torch.empty(3, 7))
    H.assert_close(w:mm(w:t()), eye(3), { atol = 1e-5 })
    w = nn.init.orthogonal_(torch.empty(4, 2, 2, 2), 2)
    local f = w:reshape(4, 8)
    H.assert_close(f:mm(f:t()), eye(4) * 4, { atol = 1e-4 })
  end)

  it('eye_ and dirac_ are exact', function()
    H.assert_close(nn.init.eye_(torch.empty(2, 3)), { { 1, 0, 0 }, { 0, 1, 0 } })
    local w = nn.init.dirac_(torch.empty(2, 2, 3))
    H.assert_close(w, { { { 0, 1, 0 }, { 0, 0, 0 } }, { { 0, 0, 0 }, { 0, 1, 0 } } })
    -- a dirac conv weight in 2-d: one 1 per (out, in) diagonal pair at the kernel centre
    local d = nn.init.dirac_(torch.empty(4, 2, 3, 3), 2)
    assert.are.equal(4, d:sum():item())
    assert.are.equal(1, d[{ 1, 1, 2, 2 }])
    assert.are.equal(1, d[{ 3, 1, 2, 2 }])
    assert.are.equal(1, d[{ 4, 2, 2, 2 }])
    H.assert_error(function() nn.init.eye_(torch.empty(2, 2, 2)) end, 'only 2-d tensors')
    H.assert_error(function() nn.init.dirac_(torch.empty(3, 3, 3), 2) end, 'divisible by groups')
  end)

  it('sparse_ zeroes the requested share of each column', function()
    local w = nn.init.sparse_(torch.empty(10, 6), 0.3)
    for c = 1, 6 do
      assert.are.equal(3, w:select(2, c):eq(0):sum():item())
    end
  end)
end)

describe('nn.utils', function()
  it('clip_grad_norm_ returns the norm and scales the gradients', function()
    local net = nn.Linear(5, 3)
    net(torch.randn(4, 5)):sum():backward()
    local ps = net:parameters()
    local before = math.sqrt(ps[1].grad:pow(2):sum():item() + ps[2].grad:pow(2):sum():item())
    local total = nn.utils.clip_grad_norm_(ps, 0.5)
    assert.is_true(math.abs(total:item() - before) < 1e-4 * before)
    local after = math.sqrt(ps[1].grad:pow(2):sum():item() + ps[2].grad:pow(2):sum():item())
    assert.is_true(math.abs(after - 0.5) < 1e-4)
    -- inf norm
    ps[1].grad:fill_(0); ps[2].grad:fill_(0)
    ps[1].grad[{ 1, 1 }] = -3
    H.assert_close(nn.utils.clip_grad_norm_(ps, 1, { norm_type = math.huge }), torch.tensor(3.0))
    assert.is_true(math.abs(ps[1].grad[{ 1, 1 }] + 1) < 1e-5)
    -- a small norm is left alone
    ps[1].grad:fill_(0.01)
    nn.utils.clip_grad_norm_(ps, 10)
    assert.is_true(math.abs(ps[1].grad[{ 1, 1 }] - 0.01) < 1e-7)
    ps[1].grad[{ 1, 1 }] = 0 / 0
    H.assert_error(function() nn.utils.clip_grad_norm_(ps, 1, { error_if_nonfinite = true }) end, 'non-finite')
  end)

  it('clip_grad_value_, parameters_to_vector, vector_to_parameters', function()
    local net = nn.Linear(3, 2)
    net(torch.randn(10, 3) * 10):sum():backward()
    nn.utils.clip_grad_value_(net:parameters(), 0.1)
    assert.is_true(net.weight.grad:abs():max():item() <= 0.1 + 1e-7)
    local v = nn.utils.parameters_to_vector(net:parameters())
    assert.are.same({ 8 }, v:size())
    H.assert_close(v:narrow(1, 1, 6), net.weight:detach():reshape(-1))
    nn.utils.vector_to_parameters(torch.arange(8):float(), net:parameters())
    H.assert_close(net.bias, { 6, 7 })
    H.assert_error(function() nn.utils.vector_to_parameters(torch.ones(3), net:parameters()) end,
      'vec has 3 elements but the parameters have 8')
  end)
end)
