-- models: torchvision's architectures checked against torchvision 0.14 itself
-- (spec/fixtures/models.lua, from scripts/fixtures/gen_models.py). No weights are
-- committed: both sides fill every parameter and buffer with the same formula (see
-- the generator's header), run the same formula input in eval mode, and the logits
-- must agree within 1e-4 of the largest |logit| (float32 on both sides). The state
-- dict keys and shapes (after mapping Ember's 1-based child numbers back to
-- PyTorch's 0-based ones) and the parameter counts must be torchvision's exactly.
-- Input sizes per model are in the fixture (64..224; inception_v3 at 139, the
-- smallest models at 224). The VGG variants are built with init_weights=false: their
-- 130M+ weights are overwritten anyway, and torchvision's normal init of them would
-- cost seconds each.
local torch = require 'torch'
local nn = require 'nn'
local models = require 'models'
local H = require 'spec.support.helpers'

local FX = H.fixture('models')

local P = 1009
local T = torch.sin((torch.arange(0, P, { dtype = 'float64' }) + 1) * 0.37)

-- the table of 1009 values for a key, float32 (nil: zeros)
local function table_for(name, shape, n)
  if name:match('num_batches_tracked$') then return nil end
  local tab
  if name:match('running_var$') then
    tab = T:abs() * 0.1 + 1
  elseif name:match('weight$') and #shape >= 2 then
    tab = T * (2 / math.sqrt(n // shape[1]))
  elseif name:match('weight$') and #shape == 1 then
    tab = T * 0.1 + 1
  else
    tab = T * 0.1
  end
  return tab:float()
end

-- element i (0-based) of the k-th tensor (0-based) = tab[(i + 31k) mod P]
local function fill(t, name, k)
  local n = t:numel()
  local tab = table_for(name, t:size(), n)
  if not tab then return t:zero_() end
  local off = (31 * k) % P
  local rolled = off == 0 and tab or torch.cat({ tab:narrow(1, off + 1, P - off), tab:narrow(1, 1, off) }, 1)
  local reps = (n + P - 1) // P
  return t:copy_(rolled:repeat_(reps):narrow(1, 1, n):view(t:size()))
end

local function input(size)
  local n = 3 * size * size
  local tab = T:float()
  return tab:repeat_((n + P - 1) // P):narrow(1, 1, n):view(1, 3, size, size)
end

-- Ember key -> PyTorch key: purely numeric components one lower
local function to_pytorch(k)
  local parts = {}
  for p in k:gmatch('[^.]+') do
    parts[#parts + 1] = p:match('^%d+$') and tostring(tonumber(p) - 1) or p
  end
  return table.concat(parts, '.')
end

local function key_string(sd)
  local parts = {}
  for _, k in ipairs(getmetatable(sd).keys) do
    local s = sd[k]:size()
    local dims = {}
    for i = 1, #s do dims[i] = tostring(s[i]) end
    parts[#parts + 1] = to_pytorch(k) .. ':' .. table.concat(dims, 'x')
  end
  return table.concat(parts, ';')
end

local function first_diff(a, b)
  local la, lb = {}, {}
  for x in a:gmatch('[^;]+') do la[#la + 1] = x end
  for x in b:gmatch('[^;]+') do lb[#lb + 1] = x end
  for i = 1, math.max(#la, #lb) do
    if la[i] ~= lb[i] then return ('entry %d: ember %s, torchvision %s'):format(i, tostring(la[i]), tostring(lb[i])) end
  end
end

local function label(c)
  local o = {}
  for k, v in pairs(c.opts) do o[#o + 1] = k .. '=' .. tostring(v) end
  table.sort(o)
  return ('%s%s at %dx%d'):format(c.name, #o > 0 and ('{' .. table.concat(o, ', ') .. '}') or '', c.size, c.size)
end

describe('models vs torchvision ' .. FX.torchvision, function()
  for _, c in ipairs(FX.models) do
    it(label(c) .. ': keys, shapes, parameter count and logits', function()
      local opts = {}
      for k, v in pairs(c.opts) do opts[k] = v end
      if c.name:match('^vgg') then opts.init_weights = false end
      local net = models[c.name](opts)
      net:eval()
      local count = 0
      for _, p in ipairs(net:parameters()) do count = count + p:numel() end
      assert.are.equal(c.params, count)
      local sd = net:state_dict()
      local ks = key_string(sd)
      if c.keys then
        if ks ~= c.keys then error('state dict differs from torchvision: ' .. tostring(first_diff(ks, c.keys))) end
      end
      assert.are.equal(c.nkeys, #getmetatable(sd).keys)
      assert.are.equal(c.keys_crc, torch._crc32(ks))
      -- same order as torchvision, so k is torchvision's index
      torch.no_grad(function()
        for k, key in ipairs(getmetatable(sd).keys) do fill(sd[key], key, k - 1) end
      end)
      local y = torch.no_grad(function() return net(input(c.size)) end):view(-1)
      assert.are.equal(c.nclasses, y:numel())
      local tol = 1e-4 * c.logits_maxabs
      local head = y:narrow(1, 1, 10)
      H.assert_close(head, c.logits_head, { atol = tol, rtol = 0 })
      local every = {}
      for j = 1, y:numel(), 25 do every[#every + 1] = y[j] end
      H.assert_close(torch.tensor(every), c.logits_every25, { atol = tol, rtol = 0 })
      assert(math.abs(y:double():sum():item() - c.logits_sum) <= tol * math.sqrt(y:numel()),
        ('logit sum %.6g, torchvision %.6g'):format(y:double():sum():item(), c.logits_sum))
      assert(math.abs(y:abs():max():item() - c.logits_maxabs) <= tol)
      net, sd, y = nil, nil, nil
      collectgarbage()
    end)
  end
end)

describe('models.load_weights', function()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute('mkdir -p ' .. dir)
  local PTH = (debug.getinfo(1, 'S').source:sub(2):match('^(.*)/') or 'spec') .. '/fixtures/pt/models_resnet18_part.pth'

  local function full_keys(net) return getmetatable(net:state_dict()).keys end

  it('reads a PyTorch .pth state dict, maps 0-based child numbers, reports what is missing', function()
    local net = models.resnet18 { num_classes = 3 }
    local ok, err = pcall(models.load_weights, net, PTH)
    assert.is_false(ok)
    assert.matches('missing key%(s%)', err)
    assert.matches('layer1.2.conv1.weight', err, 1, true)
    local _, report = models.load_weights(net, PTH, { strict = false })
    assert.are.equal(0, #report.unexpected_keys)
    assert.are.equal(0, #report.shape_mismatches)
    assert.are.equal(#full_keys(net) - 13, #report.missing_keys)
    -- the values are the generator's formula, k = the key's index in the full dict
    local keys = full_keys(net)
    for k, key in ipairs(keys) do
      if key:match('^conv1') or key:match('^fc%.') or key:match('^layer1%.1%.bn1%.running_var') then
        local t = net:state_dict()[key]
        local expected = fill(torch.empty(t:size()), key, k - 1)
        H.assert_close(t, expected, { atol = 0, rtol = 0 })
      end
    end
  end)

  it('loads Ember files and safetensors, with either naming, and through {weights=}', function()
    local a = models.shufflenet_v2_x0_5 { num_classes = 4 }
    local f1, f2 = dir .. '/sn.t7', dir .. '/sn.safetensors'
    local plain = {}
    for k, v in pairs(a:state_dict()) do plain[k] = v end
    torch.save(f1, plain)
    local pt = nn._ordered_dict()
    for k, v in pairs(a:state_dict()) do pt[to_pytorch(k)] = v:contiguous() end
    torch.save_safetensors(f2, pt)
    local x = input(32)
    local ya = torch.no_grad(function() return a:eval()(x) end)
    for _, f in ipairs { f1, f2 } do
      local b = models.shufflenet_v2_x0_5 { num_classes = 4, weights = f }
      H.assert_close(torch.no_grad(function() return b:eval()(x) end), ya, { atol = 0, rtol = 0 })
    end
    -- a state dict table with a DataParallel prefix
    local dp = nn._ordered_dict()
    for k, v in pairs(pt) do dp['module.' .. k] = v end
    local c = models.load_weights(models.shufflenet_v2_x0_5 { num_classes = 4 }, dp)
    H.assert_close(torch.no_grad(function() return c:eval()(x) end), ya, { atol = 0, rtol = 0 })
  end)

  it('reports shape mismatches and unexpected keys', function()
    local sd = models.squeezenet1_1 { num_classes = 5 }:state_dict()
    sd['extra.weight'] = torch.zeros(2)
    local ok, err = pcall(models.load_weights, models.squeezenet1_1 { num_classes = 7 }, sd)
    assert.is_false(ok)
    assert.matches('shape mismatch', err)
    assert.matches('classifier.2.weight: file has (5, 512, 1, 1), model has (7, 512, 1, 1)', err, 1, true)
    assert.matches('unexpected key(s) (in the file, not in the model):\n    extra.weight', err, 1, true)
  end)

  it('explains how to export weights when the file is missing', function()
    local ok, err = pcall(models.resnet18, { weights = dir .. '/resnet18.pth' })
    assert.is_false(ok)
    assert.matches("no such file", err)
    assert.matches("torch.save(model.state_dict(), 'resnet18.pth')", err, 1, true)
    assert.matches("torchvision.models.resnet18(weights='DEFAULT')", err, 1, true)
  end)

  it('rejects unknown options with a suggestion', function()
    local ok, err = pcall(models.resnet18, { num_clases = 3 })
    assert.is_false(ok)
    assert.matches("unknown option 'num_clases' %(did you mean 'num_classes'%?%)", err)
    assert.has_error(function() models.alexnet { num_classes = 0 } end)
  end)
end)

describe('models.summary and training-mode outputs', function()
  it('prints output shapes and parameter counts per layer and the total', function()
    local net = models.squeezenet1_1 { num_classes = 10 }
    local out = {}
    local write = io.write
    io.write = function(...) for _, s in ipairs { ... } do out[#out + 1] = s end end
    local ok, info = pcall(models.summary, net, { 1, 3, 64, 64 })
    io.write = write
    assert.is_true(ok, tostring(info))
    local text = table.concat(out)
    assert.matches('features.1 (Conv2d)', text, 1, true)
    assert.matches('[1, 64, 31, 31]', text, 1, true)
    assert.matches('Total params: 727,626', text, 1, true)
    assert.are.equal(727626, info.total_params)
    assert.are.equal('[1, 10]', info.output_shape)
    assert.is_true(net.training) -- mode restored
  end)

  it('googlenet and inception_v3 return the auxiliary logits in training', function()
    local g = models.googlenet { num_classes = 6 }
    local o = g(torch.randn(2, 3, 64, 64))
    assert.are.same({ 2, 6 }, o.logits:size())
    assert.are.same({ 2, 6 }, o.aux_logits1:size())
    assert.are.same({ 2, 6 }, o.aux_logits2:size())
    g:eval()
    assert.is_true(torch.isTensor(torch.no_grad(function() return g(torch.randn(1, 3, 64, 64)) end)))
  end)

  it('efficientnet_b0 drops residual branches only in training', function()
    local sd = models.efficientnet_b0().features[3][2].stochastic_depth
    assert.is_true(sd.p > 0)
    torch.manual_seed(4)
    local x = torch.ones(2000, 2, 1, 1) -- rows dropped with probability p (~0.025): some, not all
    sd:train()
    local y = sd(x)
    local zeros = y:eq(0):sum():item()
    assert.is_true(zeros > 0 and zeros < 4000)
    sd:eval()
    H.assert_close(sd(x), x)
  end)
end)

describe('scripts/examples/classify.lua', function()
  it('classifies a generated PNG with exported weights: top-5 labels with softmax percentages', function()
    local image = require 'image'
    local T = require 'image.transforms'
    torch.manual_seed(5)
    local base = os.tmpname()
    local png, weights, labels = base .. '.png', base .. '.safetensors', base .. '.txt'
    image.save(png, (torch.rand(3, 260, 300) * 255):to('uint8'))
    local net = models.resnet18 { num_classes = 10 }
    torch.save_safetensors(weights, net:state_dict())
    local f = assert(io.open(labels, 'w'))
    for i = 1, 10 do f:write('label ', i, '\n') end
    f:close()
    local p = io.popen(('./build/th scripts/examples/classify.lua %s --model resnet18 --weights %s --labels %s 2>&1')
      :format(png, weights, labels))
    local out = p:read('a')
    p:close()
    -- the same prediction computed here
    net:eval()
    local pre = T.Compose { T.Resize(256), T.CenterCrop(224), T.ToTensor(),
      T.Normalize({ 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }) }
    local x = pre(image.load(png, { channels = 3, dtype = 'byte' })):unsqueeze(1)
    local best = torch.no_grad(function() return net(x) end):argmax(2)[1]
    for _, path in ipairs { base, png, weights, labels } do os.remove(path) end
    local lines = {}
    for l in out:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.are.equal(5, #lines, out)
    assert.is_truthy(lines[1]:match('^%s*%d+%.%d%d%%  label ' .. best .. '$'), out)
    local total = 0
    for _, l in ipairs(lines) do total = total + tonumber(l:match('([%d.]+)%%')) end
    assert.is_true(total > 0 and total <= 100.01)
  end)
end)
