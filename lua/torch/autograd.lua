-- torch.autograd: the Lua face of the C engine (core/autograd). Grad-mode
-- helpers, autograd.grad, custom functions written in Lua, gradcheck and
-- gradgradcheck, and {requires_grad=true} in every tensor constructor.
return function(torch)
  local C = require 'torch.core'
  local autograd = {}
  torch.autograd = autograd

  -- ---- grad mode ----
  torch.is_grad_enabled = C.is_grad_enabled

  function torch.set_grad_enabled(on)
    if type(on) ~= 'boolean' then
      error('set_grad_enabled: expected a boolean, got ' .. type(on), 2)
    end
    C._set_grad_enabled(on)
  end

  -- Runs fn(...) with grad mode set to `on`, restoring it afterwards (also on error).
  local function with_mode(on, fn, ...)
    local prev = C._set_grad_enabled(on)
    local res = table.pack(pcall(fn, ...))
    C._set_grad_enabled(prev)
    if not res[1] then error(res[2], 0) end
    return table.unpack(res, 2, res.n)
  end

  -- A guard for `local _ <close> = torch.no_grad()`: restores the mode when closed.
  local Guard = { __close = function(g) C._set_grad_enabled(g.prev) end, __name = 'torch.autograd.GradModeGuard' }
  local function mode(on, name)
    return function(fn, ...)
      if fn == nil then
        return setmetatable({ prev = C._set_grad_enabled(on) }, Guard)
      end
      if type(fn) ~= 'function' then
        error(name .. ': expected a function (or no argument, for a <close> guard), got ' .. type(fn), 2)
      end
      return with_mode(on, fn, ...)
    end
  end
  torch.no_grad = mode(false, 'no_grad')
  torch.enable_grad = mode(true, 'enable_grad')
  -- Inference mode: no graph is recorded (Ember's tensors carry no extra state for it).
  torch.inference_mode = mode(false, 'inference_mode')
  autograd.no_grad, autograd.enable_grad = torch.no_grad, torch.enable_grad

  -- ---- autograd.grad / autograd.backward ----
  -- Returns a list with one gradient per input (nil where unused and allow_unused).
  function autograd.grad(outputs, inputs, opts)
    return C._autograd_grad(outputs, inputs, opts)
  end

  function autograd.backward(tensors, grad_tensors, opts)
    if torch.isTensor(tensors) then tensors = { tensors } end
    if torch.isTensor(grad_tensors) then grad_tensors = { grad_tensors } end
    grad_tensors = grad_tensors or {}
    for i, t in ipairs(tensors) do
      local o = opts or {}
      if i < #tensors then o = { retain_graph = true, create_graph = o.create_graph } end
      t:backward(grad_tensors[i], o)
    end
  end

  -- ---- custom functions ----
  local Ctx = {}
  Ctx.__index = function(ctx, k)
    if k == 'saved_tensors' then return C._saved_tensors(ctx) end
    return Ctx[k]
  end
  Ctx.__name = 'torch.autograd.FunctionCtx'

  function Ctx:save_for_backward(...)
    self._to_save = table.pack(...)
    self._to_save.n = nil
  end
  function Ctx:mark_non_differentiable(...)
    self._non_diff = { ... }
  end
  function Ctx:mark_dirty(...)
    self._dirty = { ... }
  end

  local Function = {}
  Function.__index = Function
  Function.__name = 'torch.autograd.Function'

  local function apply(def, ...)
    local n = select('#', ...)
    local args = table.pack(...)
    local needs = {}
    local any = false
    local enabled = C.is_grad_enabled()
    for i = 1, n do
      local a = args[i]
      local r = enabled and torch.isTensor(a) and a.requires_grad or false
      needs[i] = r
      any = any or r
    end
    local ctx = setmetatable({ needs_input_grad = needs }, Ctx)
    local prev = C._set_grad_enabled(false)
    local res = table.pack(pcall(def.forward, ctx, ...))
    C._set_grad_enabled(prev)
    if not res[1] then error(res[2], 0) end
    local nres = res.n - 1
    local outs = table.move(res, 2, res.n, 1, {})
    if any then
      outs = C._record_function(def.name .. 'Backward', ctx, def.backward, args, n, outs, nres, ctx._to_save,
        ctx._non_diff, ctx._dirty)
    end
    return table.unpack(outs, 1, nres)
  end

  Function.__call = function(self, ...) return apply(self, ...) end

  -- torch.autograd.Function{forward = function(ctx, ...) end, backward = function(ctx, ...) end [, name =]}
  function autograd.Function(def)
    if type(def) ~= 'table' or type(def.forward) ~= 'function' or type(def.backward) ~= 'function' then
      error('autograd.Function: expects a table with forward(ctx, ...) and backward(ctx, ...) functions', 2)
    end
    local f = setmetatable({ forward = def.forward, backward = def.backward, name = def.name or 'Function' }, Function)
    f.apply = function(...) return apply(f, ...) end
    return f
  end

  -- ---- gradient checking ----
  local function flat_index(t, k)
    -- 1-based flat position k -> multi-index table (row-major over t's shape)
    local idx = {}
    local rest = k - 1
    for d = t:dim(), 1, -1 do
      local s = t:size(d)
      idx[d] = rest % s + 1
      rest = rest // s
    end
    return idx
  end

  local function get_elem(t, k)
    if t:dim() == 0 then return t:item() end
    local v = t[flat_index(t, k)]
    return type(v) == 'number' and v or v:item()
  end

  local function set_elem(t, k, v)
    if t:dim() == 0 then t:fill_(v) return end
    t[flat_index(t, k)] = v
  end

  local function outputs_of(fn, inputs)
    local res = table.pack(fn(table.unpack(inputs, 1, inputs.n or #inputs)))
    local outs = {}
    for i = 1, res.n do
      local o = res[i]
      -- a copy: an output that is a view of an input would change as the input is perturbed
      if torch.isTensor(o) and o:is_floating_point() then outs[#outs + 1] = o:clone() end
    end
    return outs
  end

  local function to_flat_list(t)
    local c = t:contiguous():view(-1)
    return c:double():tolist()
  end

  -- gradcheck(fn, inputs [, {eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=true}])
  -- Compares autograd's Jacobian with central differences, in float64.
  function autograd.gradcheck(fn, inputs, opts)
    opts = opts or {}
    local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3
    if torch.isTensor(inputs) then inputs = { inputs } end
    local n = inputs.n or #inputs
    local args, diff, pos = {}, {}, {}
    for i = 1, n do
      local a = inputs[i]
      if torch.isTensor(a) and a.requires_grad then
        a = a:detach():double():requires_grad_(true)
        diff[#diff + 1] = a
        pos[#diff] = i
      end
      args[i] = a
    end
    args.n = n
    if #diff == 0 then error('gradcheck: no input requires grad', 2) end
    local outs = outputs_of(fn, args)
    local worst, msg = -1, nil
    -- analytical: one backward per output element (all before any input is perturbed)
    local ana = {}
    for oi, o in ipairs(outs) do
      ana[oi] = {}
      for j = 1, o:numel() do
        local go = torch.zeros_like(o)
        set_elem(go, j, 1)
        local grads = {}
        if o.requires_grad then
          grads = autograd.grad({ o }, diff, { grad_outputs = { go }, retain_graph = true, allow_unused = true })
        end
        for di = 1, #diff do
          ana[oi][di] = ana[oi][di] or {}
          ana[oi][di][j] = grads[di] and to_flat_list(grads[di]) or nil
        end
      end
    end
    -- numerical: central differences, perturbing one input element at a time
    for di, x in ipairs(diff) do
      local data = x.data
      for k = 1, x:numel() do
        local v = get_elem(data, k)
        set_elem(data, k, v + eps)
        local plus = outputs_of(fn, args)
        set_elem(data, k, v - eps)
        local minus = outputs_of(fn, args)
        set_elem(data, k, v)
        for oi = 1, #outs do
          local p, q = to_flat_list(plus[oi]), to_flat_list(minus[oi])
          for j = 1, #p do
            local num = (p[j] - q[j]) / (2 * eps)
            local an = ana[oi][di][j] and ana[oi][di][j][k] or 0
            local diffv = math.abs(an - num)
            local bad = not (diffv <= atol + rtol * math.abs(num)) -- also catches NaN
            if bad and (diffv > worst or diffv ~= diffv) then
              worst = diffv ~= diffv and math.huge or diffv
              msg = string.format('gradcheck: Jacobian mismatch for output %d with respect to input %d: ' ..
                'numerical %.8g but analytical %.8g at output element %d, input element %d ' ..
                '(|difference| %.3g > atol %g + rtol %g * |numerical|)', oi, pos[di], num, an, j, k, diffv, atol, rtol)
            end
          end
        end
      end
    end
    if msg then
      if opts.raise_exception == false then return false, msg end
      error(msg, 2)
    end
    return true
  end

  -- gradgradcheck(fn, inputs [, opts]): gradcheck of the gradient of fn (with
  -- random output gradients), which checks second derivatives.
  function autograd.gradgradcheck(fn, inputs, opts)
    opts = opts or {}
    if torch.isTensor(inputs) then inputs = { inputs } end
    local n = inputs.n or #inputs
    local args, diff_pos = {}, {}
    for i = 1, n do
      local a = inputs[i]
      if torch.isTensor(a) and a.requires_grad then
        a = a:detach():double():requires_grad_(true)
        diff_pos[#diff_pos + 1] = i
      end
      args[i] = a
    end
    args.n = n
    local outs = outputs_of(fn, args)
    local gen = torch.Generator():manual_seed(opts.seed or 0)
    local gos = {}
    for i, o in ipairs(outs) do
      gos[i] = torch.randn(o.shape, { dtype = 'float64', generator = gen }):requires_grad_(true)
    end
    local function gradfn(...)
      local all = table.pack(...)
      local a = {}
      for i = 1, n do a[i] = all[i] end
      a.n = n
      local xs = {}
      for _, p in ipairs(diff_pos) do xs[#xs + 1] = a[p] end
      local go = {}
      for i = 1, #gos do go[i] = all[n + i] end
      local o = outputs_of(fn, a)
      local g = autograd.grad(o, xs, { grad_outputs = go, create_graph = true, allow_unused = true })
      local res = {}
      for i = 1, #xs do res[#res + 1] = g[i] end
      return table.unpack(res)
    end
    local all = {}
    for i = 1, n do all[i] = args[i] end
    for i, g in ipairs(gos) do all[n + i] = g end
    all.n = n + #gos
    return autograd.gradcheck(gradfn, all, opts)
  end
  torch.autograd.gradcheck = autograd.gradcheck

  -- ---- {requires_grad=true} in constructors ----
  local function wants_grad(...)
    local n = select('#', ...)
    local last = n > 0 and select(n, ...) or nil
    return type(last) == 'table' and not torch.isTensor(last) and last.requires_grad == true
  end
  local function wrap(tbl, name)
    local f = tbl[name]
    if type(f) ~= 'function' then return end
    tbl[name] = function(...)
      local t = f(...)
      if wants_grad(...) then t:requires_grad_(true) end
      return t
    end
  end
  for _, name in ipairs { 'tensor', 'zeros', 'ones', 'full', 'empty', 'zeros_like', 'ones_like', 'full_like',
    'empty_like', 'rand_like', 'randn_like', 'arange', 'range', 'linspace', 'logspace', 'eye', 'rand', 'randn',
    'normal', 'as_tensor', 'from_table' } do
    wrap(torch, name)
  end
  for _, name in ipairs { 'new_zeros', 'new_ones', 'new_full', 'new_empty', 'new_tensor' } do
    wrap(torch.Tensor_methods, name)
  end
end
