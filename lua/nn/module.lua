-- nn.Module: the base class of every layer and network. Fields assigned to an
-- instance are stored directly on it; the class's __newindex (copied into every
-- subclass by torch.class) records each new key in assignment order, so the
-- walks below (parameters, children, buffers, state_dict, printing) look at the
-- current value of each key in a deterministic order: an nn.Parameter is a
-- parameter, a Module is a child, a name given to register_buffer is a buffer.
local torch = require 'torch'
local nn = require 'nn'
local Parameter = require 'nn.parameter'

local Module = torch.class('nn.Module')

local is_param = Parameter.is
local gc_point = torch._gc_point

local function is_module(v)
  return type(v) == 'table' and torch.isTypeOf(v, Module)
end
nn.is_module = is_module

local function class_name(m)
  local n = torch.type(m)
  return (n:gsub('^nn%.', ''))
end
Module._class_name = class_name

-- ordered key list, created on first use (a subclass may assign fields before
-- calling parent.__init)
local function order(self)
  local o = rawget(self, '_order')
  if not o then
    o = {}
    rawset(self, '_order', o)
  end
  return o
end

local function note_key(self, k)
  local o = order(self)
  for i = 1, #o do
    if o[i] == k then return end
  end
  o[#o + 1] = k
end

function Module:__newindex(k, v)
  if type(k) == 'string' and k:sub(1, 1) == '_' and (k == '_order' or k == '_buffers' or k:match('^_.*hooks$')) then
    rawset(self, k, v)
    return
  end
  note_key(self, k)
  rawset(self, k, v)
end

function Module:__init()
  order(self)
  if rawget(self, '_buffers') == nil then rawset(self, '_buffers', {}) end
  rawset(self, 'training', true)
end

local function buffers_of(self)
  local b = rawget(self, '_buffers')
  if not b then
    b = {}
    rawset(self, '_buffers', b)
  end
  return b
end

local function key_name(k)
  return type(k) == 'number' and tostring(math.tointeger(k) or k) or tostring(k)
end

-- ---- registration ----

local function check_name(self, what, name)
  if type(name) ~= 'string' and math.type(name) ~= 'integer' then
    error(('%s: name must be a string, got %s'):format(what, type(name)), 3)
  end
  if type(name) == 'string' then
    if name == '' then error(what .. ': name cannot be empty', 3) end
    if name:find('.', 1, true) then error(('%s: name cannot contain ".", got "%s"'):format(what, name), 3) end
    local mv = Module[name] or getmetatable(self)[name]
    if type(mv) == 'function' and rawget(self, name) == nil then
      error(('%s: "%s" is the name of a method of %s'):format(what, name, class_name(self)), 3)
    end
  end
end

function Module:register_parameter(name, p)
  check_name(self, 'register_parameter', name)
  if p ~= nil and not torch.isTensor(p) then
    error(('register_parameter: expected a tensor (or nil) for "%s", got %s'):format(name, torch.type(p)), 2)
  end
  if p ~= nil and not is_param(p) then p = Parameter(p, p.requires_grad or p:is_floating_point()) end
  note_key(self, name)
  rawset(self, name, p)
  return p
end

-- register_buffer(name, t [, {persistent=true}]) (persistent may also be a boolean)
function Module:register_buffer(name, t, opts)
  check_name(self, 'register_buffer', name)
  if t ~= nil and not torch.isTensor(t) then
    error(('register_buffer: expected a tensor (or nil) for "%s", got %s'):format(name, torch.type(t)), 2)
  end
  local persistent = true
  if type(opts) == 'boolean' then
    persistent = opts
  elseif type(opts) == 'table' and opts.persistent ~= nil then
    persistent = opts.persistent and true or false
  end
  buffers_of(self)[name] = persistent
  note_key(self, name)
  rawset(self, name, t)
  return t
end

function Module:register_module(name, m)
  check_name(self, 'register_module', name)
  if m ~= nil and not is_module(m) then
    error(('register_module: expected an nn.Module (or nil) for "%s", got %s'):format(name, torch.type(m)), 2)
  end
  note_key(self, name)
  rawset(self, name, m)
  return m
end
Module.add_module = Module.register_module

function Module:get_submodule(target)
  local m = self
  if target == '' then return m end
  for part in tostring(target):gmatch('[^.]+') do
    local v = rawget(m, tonumber(part) or part)
    if v == nil then v = m[part] end -- a field, or a named position of a Sequential
    if not is_module(v) then
      error(('get_submodule: %s has no submodule "%s"'):format(class_name(m), part), 2)
    end
    m = v
  end
  return m
end

-- ---- ordered results ----

-- A list of {name, value} pairs that a generic for can also walk:
-- `for name, p in net:named_parameters() do`.
local Named = {}
Named.__index = Named
Named.__name = 'nn.NamedList'
function Named.__call(self, _, prev)
  local i = prev == nil and 1 or (rawget(self, '_cursor') or 0) + 1
  rawset(self, '_cursor', i)
  local e = self[i]
  if e then return e[1], e[2] end
end
local function named(list) return setmetatable(list, Named) end

-- own entries of kind 'param' | 'buffer' | 'module', in key order
-- A container may name its positions (a Sequential built from named pairs keeps
-- position -> name in _names); other integer keys are named by their number.
local function own(self, kind)
  local res = {}
  local bufs = rawget(self, '_buffers') or {}
  local names = rawget(self, '_names')
  for _, k in ipairs(order(self)) do
    local v = rawget(self, k)
    if v ~= nil then
      if kind == 'param' and is_param(v) and bufs[k] == nil then
        res[#res + 1] = { key_name(k), v }
      elseif kind == 'buffer' and bufs[k] ~= nil and torch.isTensor(v) then
        res[#res + 1] = { key_name(k), v, bufs[k] }
      elseif kind == 'module' and is_module(v) then
        res[#res + 1] = { names and names[k] or key_name(k), v }
      end
    end
  end
  return res
end

local function walk_modules(self, prefix, memo, out, dedup)
  if dedup then
    if memo[self] then return end
    memo[self] = true
  end
  out[#out + 1] = { prefix, self }
  for _, e in ipairs(own(self, 'module')) do
    walk_modules(e[2], prefix == '' and e[1] or (prefix .. '.' .. e[1]), memo, out, dedup)
  end
end

function Module:named_modules(opts)
  local prefix = type(opts) == 'table' and opts.prefix or ''
  local dedup = not (type(opts) == 'table' and opts.remove_duplicate == false)
  local out = {}
  walk_modules(self, prefix, {}, out, dedup)
  return named(out)
end

function Module:modules()
  local res = {}
  for i, e in ipairs(self:named_modules()) do res[i] = e[2] end
  return res
end

function Module:named_children()
  local res, memo = {}, {}
  for _, e in ipairs(own(self, 'module')) do
    if not memo[e[2]] then
      memo[e[2]] = true
      res[#res + 1] = e
    end
  end
  return named(res)
end

function Module:children()
  local res = {}
  for i, e in ipairs(self:named_children()) do res[i] = e[2] end
  return res
end

local function named_members(self, kind, opts)
  local recurse = not (type(opts) == 'table' and opts.recurse == false)
  local prefix = type(opts) == 'table' and opts.prefix or ''
  local dedup = not (type(opts) == 'table' and opts.remove_duplicate == false)
  local mods = recurse and self:named_modules({ prefix = prefix }) or { { prefix, self } }
  local res, memo = {}, {}
  for _, me in ipairs(mods) do
    for _, e in ipairs(own(me[2], kind)) do
      if not (dedup and memo[e[2]]) then
        memo[e[2]] = true
        res[#res + 1] = { me[1] == '' and e[1] or (me[1] .. '.' .. e[1]), e[2] }
      end
    end
  end
  return named(res)
end

-- named_parameters([{recurse=true, prefix='', remove_duplicate=true}])
function Module:named_parameters(opts) return named_members(self, 'param', opts) end
function Module:named_buffers(opts) return named_members(self, 'buffer', opts) end

function Module:parameters(opts)
  local res = {}
  for i, e in ipairs(self:named_parameters(opts)) do res[i] = e[2] end
  return res
end

function Module:buffers(opts)
  local res = {}
  for i, e in ipairs(self:named_buffers(opts)) do res[i] = e[2] end
  return res
end

-- ---- modes ----

function Module:apply(fn)
  if type(fn) ~= 'function' then error('apply: expected a function, got ' .. type(fn), 2) end
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

function Module:train(mode)
  if mode == nil then mode = true end
  if type(mode) ~= 'boolean' then error('train: expected a boolean, got ' .. type(mode), 2) end
  for _, m in ipairs(self:modules()) do rawset(m, 'training', mode) end
  return self
end

function Module:eval() return self:train(false) end

function Module:requires_grad_(on)
  if on == nil then on = true end
  if type(on) ~= 'boolean' then error('requires_grad_: expected a boolean, got ' .. type(on), 2) end
  for _, p in ipairs(self:parameters()) do p:requires_grad_(on) end
  return self
end

-- zero_grad([{set_to_none=true}])
function Module:zero_grad(opts)
  local to_none = true
  if type(opts) == 'table' and opts.set_to_none ~= nil then to_none = opts.set_to_none
  elseif type(opts) == 'boolean' then to_none = opts end
  for _, p in ipairs(self:parameters()) do
    if p.grad ~= nil then
      if to_none then
        p.grad = nil
      else
        local g = p.grad
        if g.grad_fn then p.grad = g:detach():zero_() else g:zero_() end
      end
    end
  end
end

-- ---- conversion ----

-- _apply(fn): replaces every parameter and buffer t (of this module and below) by
-- fn(t) when fn returns a different tensor; a tensor shared by several modules
-- stays shared.
function Module:_apply(fn)
  local memo = {}
  local function convert(t, param)
    if memo[t] then return memo[t] end
    local n = torch.no_grad(fn, t)
    if rawequal(n, t) or n == nil then
      memo[t] = t
      return t
    end
    if param then
      local g = t.grad
      n = Parameter(n, t.requires_grad)
      if g ~= nil then
        local ng = torch.no_grad(fn, g)
        n.grad = ng or g
      end
    end
    memo[t] = n
    return n
  end
  for _, m in ipairs(self:modules()) do
    local bufs = rawget(m, '_buffers') or {}
    for _, k in ipairs(order(m)) do
      local v = rawget(m, k)
      if torch.isTensor(v) then
        if is_param(v) and bufs[k] == nil then
          rawset(m, k, convert(v, true))
        elseif bufs[k] ~= nil then
          rawset(m, k, convert(v, false))
        end
      end
    end
  end
  return self
end

local function check_device(dev)
  local name = tostring(dev)
  if name:match('^cuda') then
    if not (torch.cuda and torch.cuda.is_available and torch.cuda.is_available()) then
      error('cuda: no GPU is available (torch.cuda.is_available() is false); the module stays on the cpu', 3)
    end
  elseif not name:match('^cpu') then
    error('to: unknown device "' .. name .. '" (expected cpu or cuda)', 3)
  end
end

local FLOAT = { float32 = true, float64 = true, float16 = true, bfloat16 = true }

local function norm_dtype(d)
  if type(d) ~= 'string' then return nil end
  d = d:gsub('^torch%.', '')
  local alias = { float = 'float32', double = 'float64', half = 'float16', FloatTensor = 'float32',
    DoubleTensor = 'float64', HalfTensor = 'float16' }
  return alias[d] or d
end

-- to(dtype) | to(device) | to({dtype=, device=}): floating point parameters and
-- buffers take the dtype (integer ones keep theirs), all move to the device
function Module:to(a, b)
  local dtype, device
  local function take(x)
    if type(x) == 'table' and not torch.isTensor(x) then
      dtype = dtype or x.dtype
      device = device or x.device
    elseif torch.isTensor(x) then
      dtype, device = x.dtype, x.device
    elseif type(x) == 'string' then
      if x:match('^cuda') or x:match('^cpu') then device = x else dtype = x end
    elseif x ~= nil then
      device = x
    end
  end
  take(a)
  take(b)
  if dtype then
    local d = norm_dtype(dtype)
    if not FLOAT[d] then
      error('to: a module can only be cast to a floating point dtype, got ' .. tostring(dtype), 2)
    end
    dtype = d
  end
  if device then check_device(device) end
  return self:_apply(function(t)
    local r = t
    if dtype and r:is_floating_point() and r.dtype ~= dtype then r = r:to(dtype) end
    if device and tostring(r.device) ~= tostring(device) then r = r:to(device) end
    return r
  end)
end

function Module:float() return self:to('float32') end
function Module:double() return self:to('float64') end
function Module:half() return self:to('float16') end
function Module:bfloat16() return self:to('bfloat16') end
function Module:cpu() return self:to('cpu') end
function Module:cuda(dev)
  check_device('cuda')
  return self:to(dev and ('cuda:' .. tostring(dev)) or 'cuda')
end
function Module:type(t)
  if t == nil then return torch.type(self) end
  return self:to(t)
end

-- ---- copying ----

-- clone(): a deep copy of the module (Torch7's clone, PyTorch's copy.deepcopy):
-- submodules, parameters and buffers are new, with the same values; a tensor or
-- table reached twice is copied once, so sharing inside the module is kept.
-- Parameters stay parameters with their requires_grad; gradients are not copied.
-- Functions, classes (metatables) and other userdata are shared.
function Module:clone()
  local memo = {}
  local function copy(v)
    if memo[v] ~= nil then return memo[v] end
    if torch.isTensor(v) then
      local c = torch.no_grad(function() return v:detach():clone() end)
      if is_param(v) then
        c = Parameter(c, v.requires_grad)
      elseif v.requires_grad then
        c:requires_grad_(true)
      end
      memo[v] = c
      return c
    end
    if type(v) ~= 'table' then return v end
    if rawget(v, '__index') == v or rawget(v, '__typename') ~= nil then return v end -- a class
    local mt = getmetatable(v)
    local c = {}
    memo[v] = c
    for k, x in next, v do rawset(c, copy(k), copy(x)) end
    return setmetatable(c, mt)
  end
  return copy(self)
end

-- ---- state dicts ----

-- state dicts are torch.OrderedDicts: pairs() walks them in insertion order
local ordered_dict = torch.OrderedDict
nn._ordered_dict = ordered_dict

-- state_dict([{prefix='', keep_vars=false}]): parameters and persistent buffers by
-- name ('1.weight', 'block.2.bias'), detached unless keep_vars
function Module:state_dict(opts)
  local prefix = type(opts) == 'table' and opts.prefix or ''
  local keep = type(opts) == 'table' and opts.keep_vars
  local sd = ordered_dict()
  for _, me in ipairs(self:named_modules({ prefix = prefix, remove_duplicate = false })) do
    local m = me[2]
    local base = me[1] == '' and '' or (me[1] .. '.')
    for _, e in ipairs(own(m, 'param')) do sd[base .. e[1]] = keep and e[2] or e[2]:detach() end
    for _, e in ipairs(own(m, 'buffer')) do
      if e[3] then sd[base .. e[1]] = keep and e[2] or e[2]:detach() end
    end
  end
  return sd
end

local function shape_str(s)
  local p = {}
  for i = 1, #s do p[i] = tostring(s[i]) end
  return '{' .. table.concat(p, ', ') .. '}'
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- load_state_dict(sd [, {strict=true}]) -> {missing_keys=, unexpected_keys=}
function Module:load_state_dict(sd, opts)
  if type(sd) ~= 'table' or torch.isTensor(sd) then
    error('load_state_dict: expected a table of tensors by name, got ' .. torch.type(sd), 2)
  end
  local strict = true
  if type(opts) == 'table' and opts.strict ~= nil then strict = opts.strict
  elseif type(opts) == 'boolean' then strict = opts end
  local own_sd = self:state_dict({ keep_vars = true })
  local keys = getmetatable(own_sd).keys
  local missing, unexpected, mismatch = {}, {}, {}
  for _, k in ipairs(keys) do
    local src = sd[k]
    if src == nil then
      missing[#missing + 1] = k
    elseif not torch.isTensor(src) then
      mismatch[#mismatch + 1] = ('for %s: expected a tensor in the state dict, got %s'):format(k, torch.type(src))
    elseif not same_shape(src:size(), own_sd[k]:size()) then
      mismatch[#mismatch + 1] = ('size mismatch for %s: copying a param with shape %s from checkpoint, ' ..
        'the shape in current model is %s'):format(k, shape_str(src:size()), shape_str(own_sd[k]:size()))
    end
  end
  for k in pairs(sd) do
    if rawget(own_sd, k) == nil then unexpected[#unexpected + 1] = tostring(k) end
  end
  table.sort(unexpected)
  local errs = {}
  if #mismatch > 0 then for _, m in ipairs(mismatch) do errs[#errs + 1] = m end end
  if strict then
    local function quoted(l)
      local q = {}
      for i, k in ipairs(l) do q[i] = '"' .. k .. '"' end
      return table.concat(q, ', ')
    end
    if #unexpected > 0 then table.insert(errs, 1, 'Unexpected key(s) in state_dict: ' .. quoted(unexpected)) end
    if #missing > 0 then table.insert(errs, 1, 'Missing key(s) in state_dict: ' .. quoted(missing)) end
  end
  if #errs > 0 then
    error(('load_state_dict: error(s) in loading state_dict for %s:\n\t%s'):format(class_name(self),
      table.concat(errs, '\n\t')), 2)
  end
  torch.no_grad(function()
    for _, k in ipairs(keys) do
      local src = sd[k]
      if src ~= nil then own_sd[k]:copy_(src) end
    end
  end)
  return { missing_keys = missing, unexpected_keys = unexpected }
end

-- ---- calling, hooks ----

function Module:forward()
  error(class_name(self) .. ': forward is not implemented (define ' .. class_name(self) .. ':forward)', 2)
end

local Handle = {}
Handle.__index = Handle
Handle.__name = 'nn.HookHandle'
function Handle:remove()
  local list = self.list
  for i = #list, 1, -1 do
    if list[i] == self.entry then table.remove(list, i) end
  end
end

local function add_hook(self, field, fn, what)
  if type(fn) ~= 'function' then error(what .. ': expected a function, got ' .. type(fn), 3) end
  local list = rawget(self, field)
  if not list then
    list = {}
    rawset(self, field, list)
  end
  local entry = { fn = fn }
  list[#list + 1] = entry
  return setmetatable({ list = list, entry = entry }, Handle)
end

-- hook(module, input) where input is the table of arguments; returning a value
-- replaces the input (a table of arguments, or a single argument)
function Module:register_forward_pre_hook(fn)
  return add_hook(self, '_forward_pre_hooks', fn, 'register_forward_pre_hook')
end

-- hook(module, input, output); returning a value replaces the output
function Module:register_forward_hook(fn)
  return add_hook(self, '_forward_hooks', fn, 'register_forward_hook')
end

-- hook(module, grad_input, grad_output): tables with one gradient per tensor input
-- (nil where an input needs none) and per tensor output; returning a table
-- replaces grad_input
function Module:register_full_backward_hook(fn)
  return add_hook(self, '_backward_hooks', fn, 'register_full_backward_hook')
end

local function tensors_in(v)
  if torch.isTensor(v) then return { v }, true end
  local res = {}
  if type(v) == 'table' and not is_module(v) then
    for _, x in ipairs(v) do if torch.isTensor(x) then res[#res + 1] = x end end
  end
  return res, false
end

-- Wires the backward hooks of one call: inputs that require grad pass through a
-- view whose gradient is this module's grad_input; the outputs' gradients are
-- grad_output. The hooks run once every gradient of the call has arrived.
local function wire_backward(self, hooks, args)
  local state = { gin = {}, gout = {}, nin = 0, nout = 0, want_in = 0, want_out = 0 }
  local in_pos = {}
  for i = 1, args.n do
    local a = args[i]
    if torch.isTensor(a) and a.requires_grad then
      local v = a:view_as(a)
      args[i] = v
      state.want_in = state.want_in + 1
      in_pos[#in_pos + 1] = { i, v }
    end
  end
  local function fire()
    local gin = state.gin
    for _, h in ipairs(hooks) do
      local r = h.fn(self, gin, state.gout)
      if r ~= nil then
        if torch.isTensor(r) then r = { r } end
        gin = r
      end
    end
    return gin
  end
  local result_in = nil
  for k, e in ipairs(in_pos) do
    e[2]:register_hook(function(g)
      state.gin[k] = g
      state.nin = state.nin + 1
      if state.nin == state.want_in and state.nout == state.want_out then
        result_in = fire()
      end
      if result_in and result_in[k] ~= nil then
        return result_in[k]
      end
    end)
  end
  return function(out)
    local outs = tensors_in(out)
    for k, o in ipairs(outs) do
      if o.requires_grad then
        state.want_out = state.want_out + 1
        o:register_hook(function(g)
          state.gout[k] = g
          state.nout = state.nout + 1
          if state.want_in == 0 and state.nout == state.want_out then fire() end
        end)
      end
    end
  end
end

function Module:__call(...)
  gc_point()
  local args = table.pack(...)
  local pre = rawget(self, '_forward_pre_hooks')
  if pre and #pre > 0 then
    for _, h in ipairs({ table.unpack(pre) }) do
      local r = h.fn(self, args)
      if r ~= nil then
        if type(r) == 'table' and not torch.isTensor(r) and not is_module(r) then
          args = table.pack(table.unpack(r, 1, r.n or #r))
        else
          args = table.pack(r)
        end
      end
    end
  end
  local bw = rawget(self, '_backward_hooks')
  local wire_out
  if bw and #bw > 0 and torch.is_grad_enabled() then
    wire_out = wire_backward(self, bw, args)
  end
  local res = table.pack(self:forward(table.unpack(args, 1, args.n)))
  local post = rawget(self, '_forward_hooks')
  if post and #post > 0 then
    for _, h in ipairs({ table.unpack(post) }) do
      local r = h.fn(self, args, res.n <= 1 and res[1] or table.pack(table.unpack(res, 1, res.n)))
      if r ~= nil then res = table.pack(r) end
    end
  end
  if wire_out then wire_out(res.n <= 1 and res[1] or res) end
  return table.unpack(res, 1, res.n)
end

-- ---- printing ----

function Module:extra_repr() return '' end

local function indent(s)
  return (s:gsub('\n', '\n  '))
end

function Module:__tostring()
  local lines = {}
  local extra = self:extra_repr()
  if extra ~= nil and extra ~= '' then
    for l in (extra .. '\n'):gmatch('(.-)\n') do lines[#lines + 1] = l end
  end
  local children = own(self, 'module')
  for _, e in ipairs(children) do
    lines[#lines + 1] = '(' .. e[1] .. '): ' .. indent(tostring(e[2]))
  end
  local name = class_name(self)
  if #lines == 0 then return name .. '()' end
  if #children == 0 and #lines == 1 then return name .. '(' .. lines[1] .. ')' end
  return name .. '(\n  ' .. table.concat(lines, '\n  ') .. '\n)'
end

-- ---- Torch7's flat parameters ----

-- getParameters(): Torch7's flattening for the functional optimizers
-- (optim.sgd(feval, params, config) and friends). Returns one flat 1-D tensor
-- holding every parameter (in parameters() order, each row-major) and one flat
-- tensor of the same size holding every gradient. Afterwards each parameter is the
-- same tensor object (still a leaf that requires grad) viewing its slice of the flat
-- tensor, and its .grad is a view of its slice of the flat gradient, so writing
-- params changes the module's weights and backward() accumulates into gradParams.
-- Existing gradients are copied in; missing ones start as zeros. Clear gradients
-- with gradParams:zero_() -- zero_grad() (set_to_none=true by default) and
-- conversions (:to, :double, ...) replace tensors and break the aliasing; call
-- getParameters again after them. Each call allocates new flat tensors.
function Module:getParameters()
  local params = self:parameters()
  if #params == 0 then return torch.empty(0), torch.empty(0) end
  local dtype, device, total = params[1].dtype, params[1].device, 0
  for i, p in ipairs(params) do
    if p.dtype ~= dtype or tostring(p.device) ~= tostring(device) then
      error(('getParameters: all parameters must share one dtype and device (parameter %d is %s on %s, parameter 1 is %s on %s)')
        :format(i, p.dtype, tostring(p.device), dtype, tostring(device)), 2)
    end
    total = total + p:numel()
  end
  local flat = torch.zeros(total, { dtype = dtype, device = device })
  local flat_grad = torch.zeros(total, { dtype = dtype, device = device })
  torch.no_grad(function()
    local offset = 0
    for _, p in ipairs(params) do
      local n, size = p:numel(), p:size()
      local g = p.grad
      if n > 0 then
        flat:narrow(1, offset + 1, n):copy_(p:reshape(-1))
        if g ~= nil then flat_grad:narrow(1, offset + 1, n):copy_(g:reshape(-1)) end
      end
      p:set_(flat, offset, size)
      p.grad = flat_grad:as_strided(size, p:stride(), offset)
      offset = offset + n
    end
  end)
  return flat, flat_grad
end

-- nn._args(what, names, defaults, ...): PyTorch-style arguments given positionally
-- and/or as a trailing options table; returns a table by name. An unknown option
-- name is an error.
function nn._args(what, names, defaults, ...)
  local n = select('#', ...)
  local res = {}
  local opts
  local last = n > 0 and select(n, ...) or nil
  if type(last) == 'table' and not torch.isTensor(last) and not is_module(last) and getmetatable(last) == nil and rawlen(last) == 0 then
    opts, n = last, n - 1
  end
  if n > #names then
    error(('%s: expected at most %d positional arguments, got %d'):format(what, #names, n), 3)
  end
  for i = 1, n do res[names[i]] = select(i, ...) end
  if opts then
    local known = {}
    for _, k in ipairs(names) do known[k] = true end
    for k, v in pairs(opts) do
      if not known[k] then
        error(('%s: unknown option \'%s\'%s'):format(what, tostring(k), torch._did_you_mean(k, names)), 3)
      end
      res[k] = v
    end
  end
  for _, k in ipairs(names) do
    if res[k] == nil then res[k] = defaults[k] end
  end
  return res
end

-- formats an option value the way extra_repr shows it: {3, 3} -> (3, 3)
function nn._repr(v)
  if type(v) == 'table' and not torch.isTensor(v) then
    local p = {}
    for i, x in ipairs(v) do p[i] = nn._repr(x) end
    return '(' .. table.concat(p, ', ') .. (#p == 1 and ',' or '') .. ')'
  end
  if type(v) == 'string' then return "'" .. v .. "'" end
  if type(v) == 'number' and math.type(v) == 'float' and v == math.floor(v) and math.abs(v) < 1e15 then
    return ('%.1f'):format(v)
  end
  return tostring(v)
end

return Module
