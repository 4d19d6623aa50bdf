-- optim.Optimizer: the base class of PyTorch-style optimizers. It holds the
-- parameter groups (each a table with 'params' and every option, writable between
-- steps), the per-parameter state (keyed by the parameter tensor), zero_grad, step
-- with a closure, add_param_group and state dicts in PyTorch's layout.
--
-- A subclass declares its options and checks, and implements _update(group):
--   local SGD, parent = torch.class('optim.SGD', 'optim.Optimizer')
--   SGD._options = {'lr', 'momentum', ...}; SGD._defaults = {lr=1e-3, ...}
--   function SGD:_check(o) ... end           -- raise on invalid values
--   function SGD:_update(group) ... end      -- one step over the group's parameters
local torch = require 'torch'
local optim = require 'optim'

local Optimizer = torch.class('optim.Optimizer')

function Optimizer:_name()
  return (self.__typename or 'Optimizer'):gsub('^optim%.', '')
end

-- Raises "<Name>: unknown option 'x' (did you mean 'y'?)" for names not in the class's list.
function Optimizer:_check_names(opts, allow_params)
  local known = {}
  for _, k in ipairs(self._options) do known[k] = true end
  for k in pairs(opts) do
    if not known[k] and not (allow_params and k == 'params') then
      local name = tostring(k)
      error(('%s: unknown option \'%s\'%s'):format(self:_name(), name, torch._did_you_mean(k, self._options)), 0)
    end
  end
end

-- Error helpers shared by the subclasses' _check.
function Optimizer:_fail(fmt, ...)
  error(self:_name() .. ': ' .. fmt:format(...), 0)
end

function Optimizer:_check_number(o, name, lo, hi, lo_open, hi_open)
  local v = o[name]
  if type(v) ~= 'number' then self:_fail("option '%s' must be a number, got %s", name, type(v)) end
  if v ~= v then self:_fail("invalid %s value: nan", name) end
  if lo and (v < lo or (lo_open and v == lo)) or hi and (v > hi or (hi_open and v == hi)) then
    self:_fail('invalid %s value: %s', name, tostring(v))
  end
end

function Optimizer:_check_bool(o, name)
  if type(o[name]) ~= 'boolean' then
    self:_fail("option '%s' must be a boolean, got %s", name, type(o[name]))
  end
end

-- betas: a pair {b1, b2}, each in [0, 1)
function Optimizer:_check_pair(o, name, check)
  local v = o[name]
  if type(v) ~= 'table' or torch.isTensor(v) or #v ~= 2 or type(v[1]) ~= 'number' or type(v[2]) ~= 'number' then
    self:_fail("option '%s' must be a pair of numbers {a, b}", name)
  end
  check(v[1], v[2])
end

local function is_tensor_list(t)
  return type(t) == 'table' and not torch.isTensor(t)
end

-- optim.X(params [, opts]) where params is a list of tensors or a list of groups
-- {params=..., <option>=...}; opts may also be a number (the learning rate).
function Optimizer:__init(params, opts)
  if type(opts) == 'number' then opts = { lr = opts } end
  opts = opts or {}
  if type(opts) ~= 'table' or torch.isTensor(opts) then
    error(('%s: expected an options table as argument 2, got %s'):format(self:_name(), torch.type(opts)), 0)
  end
  self:_check_names(opts, false)
  local defaults = {}
  for k, v in pairs(self._defaults) do defaults[k] = v end
  for k, v in pairs(opts) do defaults[k] = v end
  if self._fill_defaults then self:_fill_defaults(defaults) end
  self:_check(defaults)
  self.defaults = defaults
  self.state = {}
  self.param_groups = {}
  if torch.isTensor(params) then
    error(('%s: params must be a list of tensors or of parameter groups, got a single tensor ' ..
      '(wrap it in a table: {x})'):format(self:_name()), 0)
  end
  if not is_tensor_list(params) then
    error(('%s: params must be a list of tensors or of parameter groups, got %s'):format(self:_name(),
      torch.type(params)), 0)
  end
  if #params == 0 then error(self:_name() .. ': got an empty parameter list', 0) end
  if torch.isTensor(params[1]) then params = { { params = params } } end
  for _, g in ipairs(params) do self:_add_group(g, 0) end
end

function Optimizer:_add_group(group, level)
  local name = self:_name()
  if type(group) ~= 'table' or torch.isTensor(group) then
    error(('%s: a parameter group must be a table {params=...}, got %s'):format(name, torch.type(group)), 0)
  end
  local ps = group.params
  if torch.isTensor(ps) then ps = { ps } end
  if not is_tensor_list(ps) then
    error(('%s: a parameter group needs params (a list of tensors), got %s'):format(name, torch.type(ps)), 0)
  end
  self:_check_names(group, true)
  local g = {}
  for k, v in pairs(self.defaults) do g[k] = v end
  for k, v in pairs(group) do g[k] = v end
  local list, seen = {}, {}
  for i, p in ipairs(ps) do
    if not torch.isTensor(p) then
      error(('%s: parameter %d is not a tensor (got %s)'):format(name, i, torch.type(p)), 0)
    end
    if not p.is_leaf then
      error(('%s: can\'t optimize a non-leaf tensor (parameter %d has a grad_fn); ' ..
        'use x:detach():requires_grad_() to make a leaf'):format(name, i), 0)
    end
    if seen[p] then
      error(('%s: parameter %d appears twice in the same group'):format(name, i), 0)
    end
    seen[p] = true
    list[i] = p
  end
  for gi, other in ipairs(self.param_groups) do
    for _, p in ipairs(other.params) do
      if seen[p] then
        error(('%s: some parameters appear in more than one parameter group (group %d and the new one)')
          :format(name, gi), 0)
      end
    end
  end
  g.params = list
  if self._fill_defaults then self:_fill_defaults(g) end
  self:_check(g)
  if self._on_add_group then self:_on_add_group(g, 0) end
  self.param_groups[#self.param_groups + 1] = g
end

function Optimizer:add_param_group(group)
  self:_add_group(group, 0)
end

-- zero_grad({set_to_none=true}): drops the gradients (PyTorch 2's default) or zeroes them.
function Optimizer:zero_grad(opts)
  local set_to_none = true
  if type(opts) == 'boolean' then set_to_none = opts
  elseif type(opts) == 'table' and opts.set_to_none ~= nil then set_to_none = opts.set_to_none end
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do
      local grad = p.grad
      if grad then
        if set_to_none then
          p.grad = nil
        else
          torch.no_grad(function()
            if grad.grad_fn then grad = grad:detach() end
            grad:zero_()
          end)
        end
      end
    end
  end
end

-- step([closure]): runs the closure (with grad enabled) when given, then one update of
-- every parameter that has a gradient; returns the closure's loss.
function Optimizer:step(closure)
  if closure ~= nil and type(closure) ~= 'function' then
    error(('%s: step expects a closure (function) or nothing, got %s'):format(self:_name(), torch.type(closure)), 0)
  end
  local loss
  if closure then
    local prev = torch.is_grad_enabled()
    torch.set_grad_enabled(true)
    local ok, res = pcall(closure)
    torch.set_grad_enabled(prev)
    if not ok then error(res, 0) end
    loss = res
  end
  torch.no_grad(function()
    for _, g in ipairs(self.param_groups) do self:_update(g) end
  end)
  return loss
end

-- The parameters of a group that have a gradient, with their gradient and state.
function Optimizer:_with_grad(group)
  local res = {}
  for _, p in ipairs(group.params) do
    local g = p.grad
    if g then
      if g.is_sparse then error(self:_name() .. ': sparse gradients are not supported', 0) end
      local st = self.state[p]
      if not st then st = {}; self.state[p] = st end
      res[#res + 1] = { p, g, st }
    end
  end
  return res
end

-- ---- state dicts ----

local function copy_value(v)
  if torch.isTensor(v) then return v:detach():clone() end
  if type(v) == 'table' then
    local t = {}
    for k, x in pairs(v) do t[k] = copy_value(x) end
    return t
  end
  return v
end

-- PyTorch's layout: state[i] for the i-th parameter (1-based, counted across groups in
-- order), param_groups[j] with every option and params = {positions}. Tensors are copies,
-- so the dict stays valid while training goes on.
function Optimizer:state_dict()
  local pos, state, groups, n = {}, {}, {}, 0
  for gi, g in ipairs(self.param_groups) do
    local pg = {}
    for k, v in pairs(g) do if k ~= 'params' then pg[k] = copy_value(v) end end
    pg.params = {}
    for i, p in ipairs(g.params) do
      n = n + 1
      pos[p] = n
      pg.params[i] = n
      if self.state[p] then state[n] = copy_value(self.state[p]) end
    end
    groups[gi] = pg
  end
  local extra = self._extra_state and self:_extra_state() or nil
  return { state = state, param_groups = groups, extra = extra }
end

function Optimizer:load_state_dict(sd)
  local name = self:_name()
  if type(sd) ~= 'table' or type(sd.param_groups) ~= 'table' or type(sd.state) ~= 'table' then
    error(name .. ': load_state_dict expects a table with state and param_groups (from state_dict())', 0)
  end
  if #sd.param_groups ~= #self.param_groups then
    error(('%s: loaded state dict has %d parameter groups, the optimizer has %d'):format(name,
      #sd.param_groups, #self.param_groups), 0)
  end
  for gi, g in ipairs(self.param_groups) do
    local sg = sd.param_groups[gi]
    if type(sg) ~= 'table' or type(sg.params) ~= 'table' or #sg.params ~= #g.params then
      error(('%s: loaded state dict contains a parameter group (%d) that doesn\'t match the size of the ' ..
        'optimizer\'s group (%d parameters, got %s)'):format(name, gi, #g.params,
        type(sg) == 'table' and type(sg.params) == 'table' and tostring(#sg.params) or '?'), 0)
    end
  end
  local state = {}
  for gi, g in ipairs(self.param_groups) do
    local sg = sd.param_groups[gi]
    for i, p in ipairs(g.params) do
      local s = sd.state[sg.params[i]]
      if s ~= nil then
        local st = {}
        for k, v in pairs(s) do
          if torch.isTensor(v) then
            -- state tensors take the parameter's dtype (as PyTorch's casting), except 'step'
            if v:is_floating_point() and k ~= 'step' then v = v:to(p.dtype) end
            st[k] = v:detach():clone()
          else
            st[k] = copy_value(v)
          end
        end
        state[p] = st
      end
    end
    local ng = {}
    for k, v in pairs(sg) do if k ~= 'params' then ng[k] = copy_value(v) end end
    ng.params = g.params
    self.param_groups[gi] = ng
  end
  self.state = state
  if self._load_extra_state then self:_load_extra_state(sd.extra) end
end

function Optimizer:__tostring()
  local lines = { self:_name() .. ' (' }
  for gi, g in ipairs(self.param_groups) do
    lines[#lines + 1] = ('Parameter Group %d'):format(gi - 1 + 1)
    local keys = {}
    for k in pairs(g) do if k ~= 'params' then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = g[k]
      if type(v) == 'table' then
        local parts = {}
        for i, x in ipairs(v) do parts[i] = tostring(x) end
        v = '(' .. table.concat(parts, ', ') .. ')'
      end
      lines[#lines + 1] = ('    %s: %s'):format(k, tostring(v))
    end
  end
  lines[#lines + 1] = ')'
  return table.concat(lines, '\n')
end

return Optimizer
