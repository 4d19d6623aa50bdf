-- models: torchvision's classic architectures (same module trees, parameter and
-- buffer names, shapes and default initialisations), models.load_weights for
-- state dicts exported from PyTorch (.pth/.pt, .safetensors) or saved by Ember, and
-- models.summary. Every constructor takes {num_classes=, weights=} plus torchvision's
-- own options: models.resnet18{weights='resnet18.pth'}. No file is ever downloaded.
local torch = require 'torch'
local nn = require 'nn'

local models = {}
package.loaded.models = models

local FAMILIES = { 'resnet', 'vgg', 'alexnet', 'squeezenet', 'densenet', 'inception', 'googlenet', 'mobilenet',
  'shufflenet', 'efficientnet', 'vit' }
for _, fam in ipairs(FAMILIES) do
  for k, v in pairs(require('models.' .. fam)) do models[k] = v end
end
models._util = require 'models.util'

-- the names of every architecture constructor, sorted
function models.list()
  local names = {}
  for k, v in pairs(models) do
    if type(v) == 'function' and k:match('^[a-z]') and k ~= 'list' and k ~= 'load_weights' and k ~= 'summary' then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  return names
end

-- ---- weights ----

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

local function keys_of(sd)
  local ks = {}
  for k in pairs(sd) do ks[#ks + 1] = k end
  return ks
end

-- the state dict inside what a file held: a state dict, a module, or a checkpoint
-- table with the state dict under 'state_dict' or 'model'
local function unwrap(obj, path)
  if nn.is_module(obj) then return obj:state_dict() end
  if type(obj) ~= 'table' then
    error(('load_weights: %s does not hold a state dict (got %s)'):format(path, torch.type(obj)), 3)
  end
  for _, k in ipairs { 'state_dict', 'model', 'model_state_dict' } do
    local v = obj[k]
    if type(v) == 'table' and not torch.isTensor(v) then return nn.is_module(v) and v:state_dict() or v end
  end
  return obj
end

local function read_file(path)
  if not exists(path) then
    local base = path:match('([^/]+)$'):gsub('%.[^.]*$', '')
    error(("load_weights: no such file '%s'. Ember never downloads weights; export them once with Python and "
      .. "torchvision:\n    import torch, torchvision\n    model = torchvision.models.%s(weights='DEFAULT')\n"
      .. "    torch.save(model.state_dict(), '%s.pth')\nor run scripts/export_torchvision.py %s")
      :format(path, base, base, base), 3)
  end
  local lower = path:lower()
  if lower:match('%.safetensors$') then return torch.load_safetensors(path) end
  if lower:match('%.pth$') or lower:match('%.pt$') or lower:match('%.bin$') or lower:match('%.ckpt$') then
    return torch.load_pytorch(path)
  end
  return torch.load(path)
end

-- picks the naming that matches net: PyTorch's 0-based child numbers (shifted by
-- torch.pytorch_to_ember_names) or Ember's own; a 'module.' prefix (DataParallel)
-- is dropped
local function map_names(sd, own, names)
  local ks = keys_of(sd)
  if #ks > 0 then
    local all = true
    for _, k in ipairs(ks) do if type(k) ~= 'string' or k:sub(1, 7) ~= 'module.' then all = false break end end
    if all then
      local out = nn._ordered_dict()
      for k, v in pairs(sd) do out[k:sub(8)] = v end
      sd = out
    end
  end
  if names == 'ember' then return sd end
  local shifted = torch.pytorch_to_ember_names(sd)
  if names == 'pytorch' then return shifted end
  local function hits(d)
    local n = 0
    for k in pairs(d) do if rawget(own, k) ~= nil then n = n + 1 end end
    return n
  end
  return hits(shifted) >= hits(sd) and shifted or sd
end

local function same_size(a, b)
  local sa, sb = a:size(), b:size()
  if #sa ~= #sb then return false end
  for i = 1, #sa do if sa[i] ~= sb[i] then return false end end
  return true
end

local function shape_str(t)
  local s = t:size()
  local p = {}
  for i = 1, #s do p[i] = tostring(s[i]) end
  return '(' .. table.concat(p, ', ') .. ')'
end

-- models.load_weights(net, source [, {strict=true, names='auto'}]) -> net, report
-- source: a file (.pth/.pt/.bin: PyTorch's zip checkpoint; .safetensors; anything
-- else: torch.save's format) or a state dict table. names: 'pytorch' (0-based child
-- numbers, as torchvision writes them: 'features.0.weight' is Ember's
-- 'features.1.weight'), 'ember', or 'auto' (whichever matches more of net's keys).
-- Values are copied into net's tensors (converted to their dtype). With strict,
-- any missing or unexpected key or shape mismatch is an error listing all of them;
-- report = {missing_keys=, unexpected_keys=, shape_mismatches=} either way.
function models.load_weights(net, source, opts)
  if not nn.is_module(net) then error('load_weights: expected an nn.Module, got ' .. torch.type(net), 2) end
  opts = opts or {}
  if type(opts) ~= 'table' then error('load_weights: options must be a table, got ' .. type(opts), 2) end
  local strict = opts.strict ~= false
  local names = opts.names or 'auto'
  if names ~= 'auto' and names ~= 'pytorch' and names ~= 'ember' then
    error(("load_weights: names must be 'auto', 'pytorch' or 'ember', got %s"):format(tostring(names)), 2)
  end
  local label = '<state dict>'
  local sd
  if type(source) == 'string' then
    label = source
    sd = unwrap(read_file(source), source)
  elseif type(source) == 'table' and not torch.isTensor(source) then
    sd = unwrap(source, label)
  else
    error('load_weights: expected a file name or a state dict, got ' .. torch.type(source), 2)
  end
  local own = net:state_dict({ keep_vars = true })
  sd = map_names(sd, own, names)
  local missing, unexpected, shapes = {}, {}, {}
  for _, k in ipairs(getmetatable(own).keys) do
    local v = sd[k]
    if v == nil then
      missing[#missing + 1] = k
    elseif not torch.isTensor(v) then
      shapes[#shapes + 1] = ('%s: expected a tensor, got %s'):format(k, torch.type(v))
    elseif not same_size(own[k], v) then
      shapes[#shapes + 1] = ('%s: file has %s, model has %s'):format(k, shape_str(v), shape_str(own[k]))
    end
  end
  for k in pairs(sd) do if rawget(own, k) == nil then unexpected[#unexpected + 1] = tostring(k) end end
  table.sort(unexpected)
  local report = { missing_keys = missing, unexpected_keys = unexpected, shape_mismatches = shapes }
  if strict and (#missing + #unexpected + #shapes) > 0 then
    local lines = { ('load_weights: %s does not fit %s:'):format(label, nn.Module._class_name(net)) }
    local function list(title, l)
      if #l == 0 then return end
      lines[#lines + 1] = ('  %d %s:'):format(#l, title)
      for i = 1, math.min(#l, 20) do lines[#lines + 1] = '    ' .. l[i] end
      if #l > 20 then lines[#lines + 1] = ('    ... and %d more'):format(#l - 20) end
    end
    list('missing key(s) (in the model, not in the file)', missing)
    list('unexpected key(s) (in the file, not in the model)', unexpected)
    list('shape mismatch(es)', shapes)
    lines[#lines + 1] = '  (names are compared after mapping PyTorch child numbers 0.. to Ember\'s 1..;'
      .. ' pass {strict=false} to load what fits)'
    error(table.concat(lines, '\n'), 2)
  end
  torch.no_grad(function()
    for _, k in ipairs(getmetatable(own).keys) do
      local v = sd[k]
      if torch.isTensor(v) and same_size(own[k], v) then own[k]:copy_(v) end
    end
  end)
  return net, report
end

-- ---- summary ----

local function out_shape(v)
  if torch.isTensor(v) then
    local s = v:size()
    local p = {}
    for i = 1, #s do p[i] = tostring(s[i]) end
    return '[' .. table.concat(p, ', ') .. ']'
  end
  if type(v) == 'table' then
    local p = {}
    for i, x in ipairs(v) do p[i] = out_shape(x) end
    return table.concat(p, ', ')
  end
  return torch.type(v)
end

local function commas(n)
  local s = tostring(math.tointeger(n) or n)
  return (s:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', ''))
end

-- models.summary(net, input_shape [, {print=true, dtype='float32'}]) -> info
-- Runs net in eval mode (no_grad) on zeros of input_shape (batch included, e.g.
-- {1, 3, 224, 224}) and prints each leaf module's output shape and own parameter
-- count, then the totals. info = {layers={{name=, type=, output_shape=, params=}},
-- total_params=, trainable_params=, output_shape=}.
function models.summary(net, input_shape, opts)
  if not nn.is_module(net) then error('summary: expected an nn.Module, got ' .. torch.type(net), 2) end
  if type(input_shape) ~= 'table' or #input_shape == 0 then
    error('summary: expected an input shape table such as {1, 3, 224, 224}', 2)
  end
  opts = opts or {}
  local layers, handles = {}, {}
  for _, e in ipairs(net:named_modules()) do
    local name, m = e[1], e[2]
    if #m:children() == 0 then
      handles[#handles + 1] = m:register_forward_hook(function(mod, _, output)
        local n = 0
        for _, p in ipairs(mod:parameters({ recurse = false })) do n = n + p:numel() end
        layers[#layers + 1] = { name = name, type = nn.Module._class_name(mod), output_shape = out_shape(output),
          params = n }
      end)
    end
  end
  local was_training = net.training
  net:eval()
  local ok, out = pcall(function()
    return torch.no_grad(function() return net(torch.zeros(input_shape, { dtype = opts.dtype })) end)
  end)
  for _, h in ipairs(handles) do h:remove() end
  net:train(was_training)
  if not ok then error('summary: the forward pass failed: ' .. tostring(out), 2) end
  local total, trainable = 0, 0
  for _, p in ipairs(net:parameters()) do
    total = total + p:numel()
    if p.requires_grad then trainable = trainable + p:numel() end
  end
  local info = { layers = layers, total_params = total, trainable_params = trainable, output_shape = out_shape(out) }
  if opts.print ~= false then
    local w = 24
    for _, l in ipairs(layers) do w = math.max(w, #l.name + #l.type + 3) end
    local rule = string.rep('-', w + 40)
    local fmt = '%-' .. w .. 's %-24s %14s'
    local lines = { rule, fmt:format('Layer (type)', 'Output Shape', 'Param #'), string.rep('=', w + 40) }
    for _, l in ipairs(layers) do
      lines[#lines + 1] = fmt:format(('%s (%s)'):format(l.name, l.type), l.output_shape, commas(l.params))
    end
    lines[#lines + 1] = string.rep('=', w + 40)
    lines[#lines + 1] = 'Total params: ' .. commas(total)
    lines[#lines + 1] = 'Trainable params: ' .. commas(trainable)
    lines[#lines + 1] = 'Non-trainable params: ' .. commas(total - trainable)
    lines[#lines + 1] = rule
    io.write(table.concat(lines, '\n'), '\n')
  end
  return info
end

return models
