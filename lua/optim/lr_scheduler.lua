-- optim.lr_scheduler: PyTorch 2's learning-rate schedulers. A scheduler works on any
-- optimizer whose param_groups is a list of writable tables with an `lr` field.
-- Construction records group.initial_lr and performs the first step (last_epoch
-- becomes 0); sched:step() moves one epoch (or one batch) on. The recursive
-- ("chainable") forms are used, as in PyTorch, so sequences match PyTorch's even
-- when several schedulers or the user change lr between steps.
--   local sched = optim.lr_scheduler.StepLR(opt, {step_size=30, gamma=0.1})
--   for epoch = 1, 100 do train(); sched:step() end
local torch = require 'torch'
local optim = require 'optim'

local S = {}
optim.lr_scheduler = S

-- ---- argument parsing ----

local function is_opts(v)
  return type(v) == 'table' and getmetatable(v) == nil and rawlen(v) == 0
end

-- args(what, names, defaults, ...): positional arguments in PyTorch's order after
-- the optimizer and/or a trailing options table; unknown names are errors
local args = require('nn')._args

local function check_optimizer(what, opt)
  if type(opt) ~= 'table' or type(opt.param_groups) ~= 'table' then
    error(('%s: expected an optimizer (a table with param_groups), got %s'):format(what, torch.type(opt)), 3)
  end
end

local function check_number(what, name, v, lo, hi)
  if type(v) ~= 'number' then
    error(('%s: %s must be a number, got %s'):format(what, name, torch.type(v)), 3)
  end
  if (lo and v < lo) or (hi and v > hi) then
    error(('%s: %s must be in [%s, %s], got %s'):format(what, name, tostring(lo or '-inf'), tostring(hi or 'inf'),
      tostring(v)), 3)
  end
end

local function check_int(what, name, v, lo)
  if math.type(v) ~= 'integer' and not (type(v) == 'number' and v == math.floor(v) and v == v) then
    error(('%s: %s must be an integer, got %s'):format(what, name, tostring(v)), 3)
  end
  if lo and v < lo then error(('%s: %s must be at least %d, got %s'):format(what, name, lo, tostring(v)), 3) end
  return math.tointeger(v)
end

-- a number or a list with one value per parameter group -> list
local function per_group(what, name, opt, v)
  local n = #opt.param_groups
  if type(v) == 'table' then
    if #v ~= n then error(('%s: expected %d values for %s, got %d'):format(what, n, name, #v), 3) end
    local r = {}
    for i = 1, n do r[i] = v[i] end
    return r
  end
  if type(v) ~= 'number' then error(('%s: %s must be a number or a list, got %s'):format(what, name, type(v)), 3) end
  local r = {}
  for i = 1, n do r[i] = v end
  return r
end

local function copy(v)
  if type(v) ~= 'table' or torch.isTensor(v) or getmetatable(v) ~= nil then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = copy(x) end
  return r
end

local function group_lrs(opt)
  local r = {}
  for i, g in ipairs(opt.param_groups) do r[i] = g.lr end
  return r
end

-- optimizers written like PyTorch's expose `defaults`; others are judged by their groups
local function has_option(opt, name)
  if type(opt.defaults) == 'table' then return opt.defaults[name] ~= nil end
  local g = opt.param_groups[1]
  return g ~= nil and g[name] ~= nil
end

-- momentum for CyclicLR / OneCycleLR: betas[1] for Adam-like optimizers
local function set_momentum(group, use_beta1, m)
  if use_beta1 then
    local b = { m }
    for i = 2, #group.betas do b[i] = group.betas[i] end
    group.betas = b
  else
    group.momentum = m
  end
end

-- ---- the base class ----

local LRScheduler = torch.class('optim.lr_scheduler.LRScheduler')
S.LRScheduler = LRScheduler

-- keys a subclass keeps out of state_dict (besides the optimizer)
LRScheduler._not_saved = {}

function LRScheduler:_setup(what, opt, last_epoch, verbose)
  check_optimizer(what, opt)
  last_epoch = check_int(what, 'last_epoch', last_epoch or -1, -1)
  self.optimizer = opt
  if last_epoch == -1 then
    for _, g in ipairs(opt.param_groups) do
      if g.initial_lr == nil then g.initial_lr = g.lr end
    end
  else
    for i, g in ipairs(opt.param_groups) do
      if g.initial_lr == nil then
        error(("%s: param 'initial_lr' is not specified in param_groups[%d] when resuming an optimizer"):format(what, i), 3)
      end
    end
  end
  self.base_lrs = {}
  for i, g in ipairs(opt.param_groups) do self.base_lrs[i] = g.initial_lr end
  self.last_epoch = last_epoch
  self.verbose = verbose or false
  self:_initial_step()
end

function LRScheduler:_initial_step()
  self._step_count = 0
  self:step()
end

-- step([epoch]): one step on; an explicit epoch uses the closed form where the
-- scheduler has one (PyTorch deprecates passing it, but SequentialLR relies on it).
function LRScheduler:step(epoch)
  self._step_count = self._step_count + 1
  local values
  if epoch == nil then
    self.last_epoch = self.last_epoch + 1
    values = self:get_lr()
  else
    if type(epoch) ~= 'number' then error('step: epoch must be a number, got ' .. torch.type(epoch), 2) end
    self.last_epoch = epoch
    values = self._closed_form and self:_closed_form() or self:get_lr()
  end
  for i, g in ipairs(self.optimizer.param_groups) do
    g.lr = values[i]
    if self.verbose then print(('Adjusting learning rate of group %d to %.4e.'):format(i, values[i])) end
  end
  self._last_lr = group_lrs(self.optimizer)
end

function LRScheduler:get_last_lr()
  return copy(self._last_lr)
end

function LRScheduler:get_lr()
  error(torch.type(self) .. ': get_lr is not implemented', 2)
end

-- everything but the optimizer (and functions, which cannot be saved), copied
function LRScheduler:state_dict()
  local sd = {}
  for k, v in pairs(self) do
    if k ~= 'optimizer' and not self._not_saved[k] and type(v) ~= 'function' then sd[k] = copy(v) end
  end
  return sd
end

function LRScheduler:load_state_dict(sd)
  if type(sd) ~= 'table' then error('load_state_dict: expected a table, got ' .. type(sd), 2) end
  for k, v in pairs(sd) do
    if k ~= 'optimizer' and not self._not_saved[k] then self[k] = copy(v) end
  end
end

function LRScheduler:__tostring()
  return torch.type(self) .. '(last_epoch=' .. tostring(self.last_epoch) .. ')'
end

local function class(name)
  local c = torch.class('optim.lr_scheduler.' .. name, 'optim.lr_scheduler.LRScheduler')
  S[name] = c
  return c
end

local function lrs_map(self, fn)
  local r = {}
  for i, g in ipairs(self.optimizer.param_groups) do r[i] = fn(g, i) end
  return r
end

-- ---- LambdaLR / MultiplicativeLR ----

local function lambdas(what, opt, f)
  local n = #opt.param_groups
  local function callable(x)
    if type(x) == 'function' then return true end
    local mt = getmetatable(x)
    return type(mt) == 'table' and mt.__call ~= nil
  end
  if callable(f) then
    local r = {}
    for i = 1, n do r[i] = f end
    return r
  end
  if type(f) ~= 'table' then error(('%s: lr_lambda must be a function or a list of functions, got %s'):format(what, type(f)), 3) end
  if #f ~= n then error(('%s: expected %d lr_lambdas, but got %d'):format(what, n, #f), 3) end
  for i = 1, n do
    if not callable(f[i]) then error(('%s: lr_lambda[%d] is not a function'):format(what, i), 3) end
  end
  return copy(f)
end

-- lambdas are saved as PyTorch saves them: a callable table's fields, false for a function
local function save_lambdas(self, sd)
  sd.lr_lambdas = {}
  for i, f in ipairs(self.lr_lambdas) do
    if type(f) == 'table' then
      local t = {}
      for k, v in pairs(f) do if type(v) ~= 'function' then t[k] = copy(v) end end
      sd.lr_lambdas[i] = t
    else
      sd.lr_lambdas[i] = false
    end
  end
  return sd
end

local function load_lambdas(self, sd)
  local saved = sd.lr_lambdas
  for i, t in ipairs(saved or {}) do
    if t and type(self.lr_lambdas[i]) == 'table' then
      for k, v in pairs(t) do self.lr_lambdas[i][k] = copy(v) end
    end
  end
end

local LambdaLR = class('LambdaLR')
LambdaLR._not_saved = { lr_lambdas = true }

function LambdaLR:__init(opt, ...)
  local a = args('LambdaLR', { 'lr_lambda', 'last_epoch', 'verbose' }, { last_epoch = -1 }, ...)
  check_optimizer('LambdaLR', opt)
  if a.lr_lambda == nil then error('LambdaLR: lr_lambda is required', 2) end
  self.lr_lambdas = lambdas('LambdaLR', opt, a.lr_lambda)
  self:_setup('LambdaLR', opt, a.last_epoch, a.verbose)
end

function LambdaLR:get_lr()
  local r = {}
  for i, base in ipairs(self.base_lrs) do r[i] = base * self.lr_lambdas[i](self.last_epoch) end
  return r
end

function LambdaLR:state_dict() return save_lambdas(self, LRScheduler.state_dict(self)) end

function LambdaLR:load_state_dict(sd)
  LRScheduler.load_state_dict(self, sd)
  load_lambdas(self, sd)
end

local MultiplicativeLR = class('MultiplicativeLR')
MultiplicativeLR._not_saved = { lr_lambdas = true }

function MultiplicativeLR:__init(opt, ...)
  local a = args('MultiplicativeLR', { 'lr_lambda', 'last_epoch', 'verbose' }, { last_epoch = -1 }, ...)
  check_optimizer('MultiplicativeLR', opt)
  if a.lr_lambda == nil then error('MultiplicativeLR: lr_lambda is required', 2) end
  self.lr_lambdas = lambdas('MultiplicativeLR', opt, a.lr_lambda)
  self:_setup('MultiplicativeLR', opt, a.last_epoch, a.verbose)
end

function MultiplicativeLR:get_lr()
  return lrs_map(self, function(g, i)
    if self.last_epoch > 0 then return g.lr * self.lr_lambdas[i](self.last_epoch) end
    return g.lr
  end)
end

MultiplicativeLR.state_dict = LambdaLR.state_dict
MultiplicativeLR.load_state_dict = LambdaLR.load_state_dict

-- ---- StepLR / MultiStepLR ----

local StepLR = class('StepLR')

function StepLR:__init(opt, ...)
  local a = args('StepLR', { 'step_size', 'gamma', 'last_epoch', 'verbose' }, { gamma = 0.1, last_epoch = -1 }, ...)
  if a.step_size == nil then error('StepLR: step_size is required', 2) end
  self.step_size = check_int('StepLR', 'step_size', a.step_size, 1)
  check_number('StepLR', 'gamma', a.gamma)
  self.gamma = a.gamma
  self:_setup('StepLR', opt, a.last_epoch, a.verbose)
end

function StepLR:get_lr()
  if self.last_epoch == 0 or self.last_epoch % self.step_size ~= 0 then
    return group_lrs(self.optimizer)
  end
  return lrs_map(self, function(g) return g.lr * self.gamma end)
end

function StepLR:_closed_form()
  local r = {}
  for i, b in ipairs(self.base_lrs) do r[i] = b * self.gamma ^ (self.last_epoch // self.step_size) end
  return r
end

local MultiStepLR = class('MultiStepLR')

function MultiStepLR:__init(opt, ...)
  local a = args('MultiStepLR', { 'milestones', 'gamma', 'last_epoch', 'verbose' }, { gamma = 0.1, last_epoch = -1 }, ...)
  if type(a.milestones) ~= 'table' then error('MultiStepLR: milestones must be a list of integers', 2) end
  -- a multiset: a milestone given twice multiplies by gamma twice
  self.milestones = {}
  for i, m in ipairs(a.milestones) do
    m = check_int('MultiStepLR', 'milestones[' .. i .. ']', m)
    self.milestones[m] = (self.milestones[m] or 0) + 1
  end
  check_number('MultiStepLR', 'gamma', a.gamma)
  self.gamma = a.gamma
  self:_setup('MultiStepLR', opt, a.last_epoch, a.verbose)
end

function MultiStepLR:get_lr()
  local c = self.milestones[self.last_epoch]
  if not c then return group_lrs(self.optimizer) end
  return lrs_map(self, function(g) return g.lr * self.gamma ^ c end)
end

function MultiStepLR:_closed_form()
  local n = 0
  for m, c in pairs(self.milestones) do
    if m <= self.last_epoch then n = n + c end
  end
  local r = {}
  for i, b in ipairs(self.base_lrs) do r[i] = b * self.gamma ^ n end
  return r
end

-- ---- ConstantLR / LinearLR / ExponentialLR / PolynomialLR ----

local ConstantLR = class('ConstantLR')

function ConstantLR:__init(opt, ...)
  local a = args('ConstantLR', { 'factor', 'total_iters', 'last_epoch', 'verbose' },
    { factor = 1 / 3, total_iters = 5, last_epoch = -1 }, ...)
  if type(a.factor) ~= 'number' or a.factor > 1 or a.factor < 0 then
    error('ConstantLR: constant multiplicative factor expected to be between 0 and 1, got ' .. tostring(a.factor), 2)
  end
  self.factor = a.factor
  self.total_iters = check_int('ConstantLR', 'total_iters', a.total_iters, 0)
  self:_setup('ConstantLR', opt, a.last_epoch, a.verbose)
end

function ConstantLR:get_lr()
  if self.last_epoch == 0 then return lrs_map(self, function(g) return g.lr * self.factor end) end
  if self.last_epoch ~= self.total_iters then return group_lrs(self.optimizer) end
  return lrs_map(self, function(g) return g.lr * (1.0 / self.factor) end)
end

function ConstantLR:_closed_form()
  local r = {}
  local k = self.last_epoch >= self.total_iters and 1 or 0
  for i, b in ipairs(self.base_lrs) do r[i] = b * (self.factor + k * (1 - self.factor)) end
  return r
end

local LinearLR = class('LinearLR')

function LinearLR:__init(opt, ...)
  local a = args('LinearLR', { 'start_factor', 'end_factor', 'total_iters', 'last_epoch', 'verbose' },
    { start_factor = 1 / 3, end_factor = 1.0, total_iters = 5, last_epoch = -1 }, ...)
  if type(a.start_factor) ~= 'number' or a.start_factor > 1 or a.start_factor <= 0 then
    error('LinearLR: starting multiplicative factor expected to be greater than 0 and less or equal to 1, got '
      .. tostring(a.start_factor), 2)
  end
  if type(a.end_factor) ~= 'number' or a.end_factor > 1 or a.end_factor < 0 then
    error('LinearLR: ending multiplicative factor expected to be between 0 and 1, got ' .. tostring(a.end_factor), 2)
  end
  self.start_factor, self.end_factor = a.start_factor, a.end_factor
  self.total_iters = check_int('LinearLR', 'total_iters', a.total_iters, 1)
  self:_setup('LinearLR', opt, a.last_epoch, a.verbose)
end

function LinearLR:get_lr()
  local e, s, f = self.last_epoch, self.start_factor, self.end_factor
  if e == 0 then return lrs_map(self, function(g) return g.lr * s end) end
  if e > self.total_iters then return group_lrs(self.optimizer) end
  return lrs_map(self, function(g)
    return g.lr * (1.0 + (f - s) / (self.total_iters * s + (e - 1) * (f - s)))
  end)
end

function LinearLR:_closed_form()
  local r = {}
  local s, f = self.start_factor, self.end_factor
  for i, b in ipairs(self.base_lrs) do
    r[i] = b * (s + (f - s) * math.min(self.total_iters, self.last_epoch) / self.total_iters)
  end
  return r
end

local ExponentialLR = class('ExponentialLR')

function ExponentialLR:__init(opt, ...)
  local a = args('ExponentialLR', { 'gamma', 'last_epoch', 'verbose' }, { last_epoch = -1 }, ...)
  if a.gamma == nil then error('ExponentialLR: gamma is required', 2) end
  check_number('ExponentialLR', 'gamma', a.gamma)
  self.gamma = a.gamma
  self:_setup('ExponentialLR', opt, a.last_epoch, a.verbose)
end

function ExponentialLR:get_lr()
  if self.last_epoch == 0 then return group_lrs(self.optimizer) end
  return lrs_map(self, function(g) return g.lr * self.gamma end)
end

function ExponentialLR:_closed_form()
  local r = {}
  for i, b in ipairs(self.base_lrs) do r[i] = b * self.gamma ^ self.last_epoch end
  return r
end

local PolynomialLR = class('PolynomialLR')

function PolynomialLR:__init(opt, ...)
  local a = args('PolynomialLR', { 'total_iters', 'power', 'last_epoch', 'verbose' },
    { total_iters = 5, power = 1.0, last_epoch = -1 }, ...)
  self.total_iters = check_int('PolynomialLR', 'total_iters', a.total_iters, 1)
  check_number('PolynomialLR', 'power', a.power)
  self.power = a.power
  self:_setup('PolynomialLR', opt, a.last_epoch, a.verbose)
end

function PolynomialLR:get_lr()
  local e, T = self.last_epoch, self.total_iters
  if e == 0 or e > T then return group_lrs(self.optimizer) end
  local k = ((1.0 - e / T) / (1.0 - (e - 1) / T)) ^ self.power
  return lrs_map(self, function(g) return g.lr * k end)
end

function PolynomialLR:_closed_form()
  local r = {}
  for i, b in ipairs(self.base_lrs) do
    r[i] = b * (1.0 - math.min(self.total_iters, self.last_epoch) / self.total_iters) ^ self.power
  end
  return r
end

-- ---- CosineAnnealingLR / CosineAnnealingWarmRestarts ----

local CosineAnnealingLR = class('CosineAnnealingLR')

function CosineAnnealingLR:__init(opt, ...)
  local a = args('CosineAnnealingLR', { 'T_max', 'eta_min', 'last_epoch', 'verbose' }, { eta_min = 0.0, last_epoch = -1 }, ...)
  if a.T_max == nil then error('CosineAnnealingLR: T_max is required', 2) end
  check_number('CosineAnnealingLR', 'T_max', a.T_max)
  check_number('CosineAnnealingLR', 'eta_min', a.eta_min)
  self.T_max, self.eta_min = a.T_max, a.eta_min
  self:_setup('CosineAnnealingLR', opt, a.last_epoch, a.verbose)
end

function CosineAnnealingLR:get_lr()
  local e, T, lo, pi = self.last_epoch, self.T_max, self.eta_min, math.pi
  if e == 0 then return group_lrs(self.optimizer) end
  if self._step_count == 1 and e > 0 then
    local r = {}
    for i, b in ipairs(self.base_lrs) do r[i] = lo + (b - lo) * (1 + math.cos(e * pi / T)) / 2 end
    return r
  end
  if (e - 1 - T) % (2 * T) == 0 then
    return lrs_map(self, function(g, i) return g.lr + (self.base_lrs[i] - lo) * (1 - math.cos(pi / T)) / 2 end)
  end
  return lrs_map(self, function(g)
    return (1 + math.cos(pi * e / T)) / (1 + math.cos(pi * (e - 1) / T)) * (g.lr - lo) + lo
  end)
end

function CosineAnnealingLR:_closed_form()
  local r = {}
  for i, b in ipairs(self.base_lrs) do
    r[i] = self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
  end
  return r
end

local WarmRestarts = class('CosineAnnealingWarmRestarts')

function WarmRestarts:__init(opt, ...)
  local what = 'CosineAnnealingWarmRestarts'
  local a = args(what, { 'T_0', 'T_mult', 'eta_min', 'last_epoch', 'verbose' }, { T_mult = 1, eta_min = 0.0, last_epoch = -1 }, ...)
  if a.T_0 == nil then error(what .. ': T_0 is required', 2) end
  self.T_0 = check_int(what, 'T_0', a.T_0, 1)
  self.T_mult = check_int(what, 'T_mult', a.T_mult, 1)
  check_number(what, 'eta_min', a.eta_min)
  self.T_i = self.T_0
  self.eta_min = a.eta_min
  self.T_cur = check_int(what, 'last_epoch', a.last_epoch or -1, -1)
  self:_setup(what, opt, a.last_epoch, a.verbose)
end

function WarmRestarts:get_lr()
  local r = {}
  for i, b in ipairs(self.base_lrs) do
    r[i] = self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
  end
  return r
end

-- step([epoch]): epoch may be fractional (epoch + batch / batches)
function WarmRestarts:step(epoch)
  if epoch == nil and self.last_epoch < 0 then epoch = 0 end
  self._step_count = (self._step_count or 0) + 1
  if epoch == nil then
    epoch = self.last_epoch + 1
    self.T_cur = self.T_cur + 1
    if self.T_cur >= self.T_i then
      self.T_cur = self.T_cur - self.T_i
      self.T_i = self.T_i * self.T_mult
    end
  else
    if type(epoch) ~= 'number' then error('step: epoch must be a number, got ' .. torch.type(epoch), 2) end
    if epoch < 0 then error('CosineAnnealingWarmRestarts: expected non-negative epoch, but got ' .. tostring(epoch), 2) end
    if epoch >= self.T_0 then
      if self.T_mult == 1 then
        self.T_cur = epoch % self.T_0
      else
        -- log(x) / log(base), as Python's math.log(x, base) computes it
        local n = math.floor(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1) / math.log(self.T_mult))
        self.T_cur = epoch - self.T_0 * (self.T_mult ^ n - 1) / (self.T_mult - 1)
        self.T_i = self.T_0 * math.tointeger(self.T_mult ^ n)
      end
    else
      self.T_i = self.T_0
      self.T_cur = epoch
    end
  end
  self.last_epoch = math.floor(epoch)
  local values = self:get_lr()
  for i, g in ipairs(self.optimizer.param_groups) do
    g.lr = values[i]
    if self.verbose then print(('Adjusting learning rate of group %d to %.4e.'):format(i, values[i])) end
  end
  self._last_lr = group_lrs(self.optimizer)
end

-- ---- CyclicLR ----

local CyclicLR = class('CyclicLR')
CyclicLR._not_saved = { scale_fn = true }

function CyclicLR:__init(opt, ...)
  local what = 'CyclicLR'
  local a = args(what, { 'base_lr', 'max_lr', 'step_size_up', 'step_size_down', 'mode', 'gamma', 'scale_fn',
    'scale_mode', 'cycle_momentum', 'base_momentum', 'max_momentum', 'last_epoch', 'verbose' },
    { step_size_up = 2000, mode = 'triangular', gamma = 1.0, scale_mode = 'cycle', cycle_momentum = true,
      base_momentum = 0.8, max_momentum = 0.9, last_epoch = -1 }, ...)
  check_optimizer(what, opt)
  if a.base_lr == nil or a.max_lr == nil then error(what .. ': base_lr and max_lr are required', 2) end
  local last_epoch = check_int(what, 'last_epoch', a.last_epoch, -1)
  local base_lrs = per_group(what, 'base_lr', opt, a.base_lr)
  if last_epoch == -1 then
    for i, g in ipairs(opt.param_groups) do g.lr = base_lrs[i] end
  end
  self.max_lrs = per_group(what, 'max_lr', opt, a.max_lr)
  check_number(what, 'step_size_up', a.step_size_up)
  local up = a.step_size_up + 0.0
  local down = a.step_size_down ~= nil and a.step_size_down + 0.0 or up
  self.total_size = up + down
  self.step_ratio = up / self.total_size
  local modes = { triangular = 'cycle', triangular2 = 'cycle', exp_range = 'iterations' }
  if a.scale_fn == nil and not modes[a.mode] then
    error(what .. ": mode '" .. tostring(a.mode) .. "' is invalid and scale_fn is nil", 2)
  end
  if a.scale_fn ~= nil and a.scale_mode ~= 'cycle' and a.scale_mode ~= 'iterations' then
    error(what .. ": scale_mode must be 'cycle' or 'iterations', got '" .. tostring(a.scale_mode) .. "'", 2)
  end
  self.mode, self.gamma = a.mode, a.gamma
  self.scale_fn = a.scale_fn
  self.scale_mode = a.scale_fn and a.scale_mode or modes[a.mode]
  self.cycle_momentum = a.cycle_momentum
  if a.cycle_momentum then
    if not has_option(opt, 'momentum') and not has_option(opt, 'betas') then
      error(what .. ': optimizer must support momentum or beta1 with the cycle_momentum option enabled', 2)
    end
    self.use_beta1 = has_option(opt, 'betas')
    self.base_momentums = per_group(what, 'base_momentum', opt, a.base_momentum)
    self.max_momentums = per_group(what, 'max_momentum', opt, a.max_momentum)
    if last_epoch == -1 then
      for i, g in ipairs(opt.param_groups) do
        set_momentum(g, self.use_beta1, self.max_momentums[i])
        g.max_momentum, g.base_momentum = self.max_momentums[i], self.base_momentums[i]
      end
    end
  end
  self:_setup(what, opt, last_epoch, a.verbose)
  self.base_lrs = base_lrs
end

function CyclicLR:_scale(x)
  if self.scale_fn then return self.scale_fn(x) end
  if self.mode == 'triangular' then return 1.0 end
  if self.mode == 'triangular2' then return 1 / (2.0 ^ (x - 1)) end
  return self.gamma ^ x
end

function CyclicLR:get_lr()
  local e = self.last_epoch
  local cycle = math.floor(1 + e / self.total_size)
  local x = 1.0 + e / self.total_size - cycle
  local scale_factor
  if x <= self.step_ratio then
    scale_factor = x / self.step_ratio
  else
    scale_factor = (x - 1) / (self.step_ratio - 1)
  end
  local s = self:_scale(self.scale_mode == 'cycle' and cycle or e)
  local lrs = {}
  for i, base in ipairs(self.base_lrs) do
    lrs[i] = base + (self.max_lrs[i] - base) * scale_factor * s
  end
  if self.cycle_momentum then
    for i, g in ipairs(self.optimizer.param_groups) do
      local bm, mm = self.base_momentums[i], self.max_momentums[i]
      set_momentum(g, self.use_beta1, mm - (mm - bm) * scale_factor * s)
    end
  end
  return lrs
end

-- ---- OneCycleLR ----

local OneCycleLR = class('OneCycleLR')

function OneCycleLR:__init(opt, ...)
  local what = 'OneCycleLR'
  local a = args(what, { 'max_lr', 'total_steps', 'epochs', 'steps_per_epoch', 'pct_start', 'anneal_strategy',
    'cycle_momentum', 'base_momentum', 'max_momentum', 'div_factor', 'final_div_factor', 'three_phase',
    'last_epoch', 'verbose' },
    { pct_start = 0.3, anneal_strategy = 'cos', cycle_momentum = true, base_momentum = 0.85, max_momentum = 0.95,
      div_factor = 25.0, final_div_factor = 1e4, three_phase = false, last_epoch = -1 }, ...)
  check_optimizer(what, opt)
  if a.max_lr == nil then error(what .. ': max_lr is required', 2) end
  if a.total_steps == nil and (a.epochs == nil or a.steps_per_epoch == nil) then
    error(what .. ': you must define either total_steps or (epochs and steps_per_epoch)', 2)
  elseif a.total_steps ~= nil then
    if math.type(a.total_steps) ~= 'integer' or a.total_steps <= 0 then
      error(what .. ': expected a positive integer total_steps, but got ' .. tostring(a.total_steps), 2)
    end
    self.total_steps = a.total_steps
  else
    if math.type(a.epochs) ~= 'integer' or a.epochs <= 0 then
      error(what .. ': expected a positive integer epochs, but got ' .. tostring(a.epochs), 2)
    end
    if math.type(a.steps_per_epoch) ~= 'integer' or a.steps_per_epoch <= 0 then
      error(what .. ': expected a positive integer steps_per_epoch, but got ' .. tostring(a.steps_per_epoch), 2)
    end
    self.total_steps = a.epochs * a.steps_per_epoch
  end
  local p = a.pct_start
  if type(p) ~= 'number' or p < 0 or p > 1 then
    error(what .. ': expected pct_start between 0 and 1, but got ' .. tostring(p), 2)
  end
  local T = self.total_steps
  if a.three_phase then
    self._schedule_phases = {
      { end_step = p * T - 1, start_lr = 'initial_lr', end_lr = 'max_lr', start_momentum = 'max_momentum', end_momentum = 'base_momentum' },
      { end_step = 2 * p * T - 2, start_lr = 'max_lr', end_lr = 'initial_lr', start_momentum = 'base_momentum', end_momentum = 'max_momentum' },
      { end_step = T - 1, start_lr = 'initial_lr', end_lr = 'min_lr', start_momentum = 'max_momentum', end_momentum = 'max_momentum' },
    }
  else
    self._schedule_phases = {
      { end_step = p * T - 1, start_lr = 'initial_lr', end_lr = 'max_lr', start_momentum = 'max_momentum', end_momentum = 'base_momentum' },
      { end_step = T - 1, start_lr = 'max_lr', end_lr = 'min_lr', start_momentum = 'base_momentum', end_momentum = 'max_momentum' },
    }
  end
  if a.anneal_strategy ~= 'cos' and a.anneal_strategy ~= 'linear' then
    error(what .. ": anneal_strategy must be one of 'cos' or 'linear', instead got '" .. tostring(a.anneal_strategy) .. "'", 2)
  end
  self.anneal_strategy = a.anneal_strategy
  local last_epoch = check_int(what, 'last_epoch', a.last_epoch, -1)
  local max_lrs = per_group(what, 'max_lr', opt, a.max_lr)
  if last_epoch == -1 then
    for i, g in ipairs(opt.param_groups) do
      g.initial_lr = max_lrs[i] / a.div_factor
      g.max_lr = max_lrs[i]
      g.min_lr = g.initial_lr / a.final_div_factor
    end
  end
  self.cycle_momentum = a.cycle_momentum
  if a.cycle_momentum then
    if not has_option(opt, 'momentum') and not has_option(opt, 'betas') then
      error(what .. ': optimizer must support momentum or beta1 with the cycle_momentum option enabled', 2)
    end
    self.use_beta1 = has_option(opt, 'betas')
    local mm = per_group(what, 'max_momentum', opt, a.max_momentum)
    local bm = per_group(what, 'base_momentum', opt, a.base_momentum)
    if last_epoch == -1 then
      for i, g in ipairs(opt.param_groups) do
        set_momentum(g, self.use_beta1, mm[i])
        g.max_momentum, g.base_momentum = mm[i], bm[i]
      end
    end
  end
  self:_setup(what, opt, last_epoch, a.verbose)
end

function OneCycleLR:_anneal(start, stop, pct)
  if self.anneal_strategy == 'cos' then
    return stop + (start - stop) / 2.0 * (math.cos(math.pi * pct) + 1)
  end
  return (stop - start) * pct + start
end

function OneCycleLR:get_lr()
  local step = self.last_epoch
  if step > self.total_steps then
    error(('OneCycleLR: tried to step %d times; the specified number of total steps is %d'):format(step, self.total_steps), 3)
  end
  local phases = self._schedule_phases
  return lrs_map(self, function(g)
    local start_step, lr, mom = 0, nil, nil
    for i, ph in ipairs(phases) do
      local end_step = ph.end_step
      if step <= end_step or i == #phases then
        local pct = (step - start_step) / (end_step - start_step)
        lr = self:_anneal(g[ph.start_lr], g[ph.end_lr], pct)
        if self.cycle_momentum then mom = self:_anneal(g[ph.start_momentum], g[ph.end_momentum], pct) end
        break
      end
      start_step = ph.end_step
    end
    if self.cycle_momentum then set_momentum(g, self.use_beta1, mom) end
    return lr
  end)
end

-- ---- SequentialLR / ChainedScheduler ----

local function check_schedulers(what, list, opt)
  if type(list) ~= 'table' or #list == 0 then error(what .. ': expected a non-empty list of schedulers', 3) end
  for i, s in ipairs(list) do
    if type(s) ~= 'table' or type(s.step) ~= 'function' or s.optimizer == nil then
      error(('%s: schedulers[%d] is not a scheduler'):format(what, i), 3)
    end
    if not rawequal(s.optimizer, opt or list[1].optimizer) then
      error(('%s: expects all schedulers to belong to the same optimizer, but schedulers[%d] has another'):format(what, i), 3)
    end
  end
end

local function save_children(self, sd)
  sd._schedulers = {}
  for i, s in ipairs(self._schedulers) do sd._schedulers[i] = s:state_dict() end
  return sd
end

local function load_children(self, sd)
  for i, s in ipairs(sd._schedulers or {}) do self._schedulers[i]:load_state_dict(s) end
end

local SequentialLR = class('SequentialLR')
SequentialLR._not_saved = { _schedulers = true }

function SequentialLR:__init(opt, ...)
  local what = 'SequentialLR'
  local a = args(what, { 'schedulers', 'milestones', 'last_epoch', 'verbose' }, { last_epoch = -1 }, ...)
  check_optimizer(what, opt)
  check_schedulers(what, a.schedulers, opt)
  if type(a.milestones) ~= 'table' then error(what .. ': milestones must be a list of integers', 2) end
  if #a.milestones ~= #a.schedulers - 1 then
    error(('%s: expects number of schedulers provided to be one more than the number of milestone points, '
      .. 'but got number of schedulers %d and the number of milestones to be equal to %d')
      :format(what, #a.schedulers, #a.milestones), 2)
  end
  self._schedulers = {}
  for i, s in ipairs(a.schedulers) do self._schedulers[i] = s end
  self._milestones = copy(a.milestones)
  self.last_epoch = check_int(what, 'last_epoch', a.last_epoch, -1) + 1
  self.optimizer = opt
  for _, g in ipairs(opt.param_groups) do g.lr = g.initial_lr end
  -- undo the step the schedulers took when they were made; redo only the first
  for _, s in ipairs(self._schedulers) do s.last_epoch = s.last_epoch - 1 end
  self._schedulers[1]:_initial_step()
  self._last_lr = self._schedulers[1]:get_last_lr()
end

function SequentialLR:step()
  self.last_epoch = self.last_epoch + 1
  local idx = 0 -- bisect_right: milestones <= last_epoch
  for _, m in ipairs(self._milestones) do
    if m <= self.last_epoch then idx = idx + 1 end
  end
  local s = self._schedulers[idx + 1]
  if idx > 0 and self._milestones[idx] == self.last_epoch then
    s:step(0)
  else
    s:step()
  end
  self._last_lr = s:get_last_lr()
end

function SequentialLR:state_dict() return save_children(self, LRScheduler.state_dict(self)) end

function SequentialLR:load_state_dict(sd)
  LRScheduler.load_state_dict(self, sd)
  load_children(self, sd)
end

local ChainedScheduler = class('ChainedScheduler')
ChainedScheduler._not_saved = { _schedulers = true }

-- ChainedScheduler(schedulers [, optimizer]): every step steps them all in order
function ChainedScheduler:__init(schedulers, opt, extra)
  local what = 'ChainedScheduler'
  if is_opts(opt) then
    for k in pairs(opt) do
      if k ~= 'optimizer' then error(what .. ": unknown option '" .. tostring(k) .. "'", 2) end
    end
    opt = opt.optimizer
  end
  if extra ~= nil then error(what .. ': expected (schedulers [, optimizer])', 2) end
  if opt ~= nil then check_optimizer(what, opt) end
  check_schedulers(what, schedulers, opt)
  self._schedulers = {}
  for i, s in ipairs(schedulers) do self._schedulers[i] = s end
  self.optimizer = opt or schedulers[1].optimizer
  self._last_lr = group_lrs(self.optimizer)
end

function ChainedScheduler:step()
  for _, s in ipairs(self._schedulers) do s:step() end
  self._last_lr = group_lrs(self.optimizer)
end

ChainedScheduler.state_dict = SequentialLR.state_dict
ChainedScheduler.load_state_dict = SequentialLR.load_state_dict

-- ---- ReduceLROnPlateau ----

local Plateau = class('ReduceLROnPlateau')

function Plateau:__init(opt, ...)
  local what = 'ReduceLROnPlateau'
  local a = args(what, { 'mode', 'factor', 'patience', 'threshold', 'threshold_mode', 'cooldown', 'min_lr', 'eps',
    'verbose' },
    { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, threshold_mode = 'rel', cooldown = 0, min_lr = 0,
      eps = 1e-8 }, ...)
  check_optimizer(what, opt)
  check_number(what, 'factor', a.factor)
  if a.factor >= 1.0 then error(what .. ': factor should be < 1.0, got ' .. tostring(a.factor), 2) end
  self.factor = a.factor
  self.optimizer = opt
  if type(a.min_lr) == 'table' then
    if #a.min_lr ~= #opt.param_groups then
      error(('%s: expected %d min_lrs, got %d'):format(what, #opt.param_groups, #a.min_lr), 2)
    end
    self.min_lrs = copy(a.min_lr)
  else
    check_number(what, 'min_lr', a.min_lr)
    self.min_lrs = {}
    for i = 1, #opt.param_groups do self.min_lrs[i] = a.min_lr end
  end
  self.patience = check_int(what, 'patience', a.patience, 0)
  self.cooldown = check_int(what, 'cooldown', a.cooldown, 0)
  check_number(what, 'threshold', a.threshold)
  check_number(what, 'eps', a.eps)
  self.cooldown_counter = 0
  self.mode, self.threshold, self.threshold_mode = a.mode, a.threshold, a.threshold_mode
  self.eps = a.eps
  self.verbose = a.verbose or false
  self.last_epoch = 0
  self._last_lr = group_lrs(opt)
  self:_init_is_better()
  self:_reset()
end

function Plateau:_init_is_better()
  if self.mode ~= 'min' and self.mode ~= 'max' then
    error("ReduceLROnPlateau: mode '" .. tostring(self.mode) .. "' is unknown (expected 'min' or 'max')", 3)
  end
  if self.threshold_mode ~= 'rel' and self.threshold_mode ~= 'abs' then
    error("ReduceLROnPlateau: threshold mode '" .. tostring(self.threshold_mode) .. "' is unknown (expected 'rel' or 'abs')", 3)
  end
  self.mode_worse = self.mode == 'min' and math.huge or -math.huge
end

function Plateau:_reset()
  self.best = self.mode_worse
  self.cooldown_counter = 0
  self.num_bad_epochs = 0
end

function Plateau:is_better(a, best)
  if self.mode == 'min' and self.threshold_mode == 'rel' then return a < best * (1.0 - self.threshold) end
  if self.mode == 'min' then return a < best - self.threshold end
  if self.threshold_mode == 'rel' then return a > best * (self.threshold + 1.0) end
  return a > best + self.threshold
end

-- step(metric [, epoch]): metric is a number or a one-element tensor
function Plateau:step(metric, epoch)
  if torch.isTensor(metric) then metric = metric:item() end
  if type(metric) ~= 'number' then
    error('ReduceLROnPlateau: step expects the metric (a number or a one-element tensor), got ' .. torch.type(metric), 2)
  end
  local current = metric + 0.0
  if epoch == nil then epoch = self.last_epoch + 1 end
  self.last_epoch = epoch
  if self:is_better(current, self.best) then
    self.best = current
    self.num_bad_epochs = 0
  else
    self.num_bad_epochs = self.num_bad_epochs + 1
  end
  if self.cooldown_counter > 0 then
    self.cooldown_counter = self.cooldown_counter - 1
    self.num_bad_epochs = 0 -- bad epochs in cooldown do not count
  end
  if self.num_bad_epochs > self.patience then
    for i, g in ipairs(self.optimizer.param_groups) do
      local old = g.lr + 0.0
      local new = math.max(old * self.factor, self.min_lrs[i])
      if old - new > self.eps then
        g.lr = new
        if self.verbose then print(('Epoch %d: reducing learning rate of group %d to %.4e.'):format(epoch, i, new)) end
      end
    end
    self.cooldown_counter = self.cooldown
    self.num_bad_epochs = 0
  end
  self._last_lr = group_lrs(self.optimizer)
end

function Plateau:load_state_dict(sd)
  LRScheduler.load_state_dict(self, sd)
  self:_init_is_better()
end

return S
