-- optim.LBFGS: limited-memory BFGS (after PyTorch's port of minFunc), with an optional
-- strong-Wolfe line search (cubic interpolation, Nocedal & Wright alg. 3.5/3.6).
-- Options: lr=1, max_iter=20, max_eval (max_iter * 5 // 4), tolerance_grad=1e-7,
-- tolerance_change=1e-9, history_size=100, line_search_fn=nil | 'strong_wolfe'.
-- step(closure) needs a closure that re-evaluates the loss (and its gradients); one
-- parameter group only. The scalar recurrences (ro, H_diag, al, the first step) are
-- rounded to the parameters' type as PyTorch's 0-d tensors are, so float32 runs
-- follow PyTorch's closely.
local torch = require 'torch'

local LBFGS, parent = torch.class('optim.LBFGS', 'optim.Optimizer')
LBFGS._options = { 'lr', 'max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'history_size',
  'line_search_fn' }
LBFGS._defaults = { lr = 1, max_iter = 20, tolerance_grad = 1e-7, tolerance_change = 1e-9, history_size = 100 }

local function f32(x) return string.unpack('f', string.pack('f', x)) end
local function ident(x) return x end

function LBFGS:__init(params, opts)
  parent.__init(self, params, opts)
  if #self.param_groups ~= 1 then
    error("LBFGS: doesn't support per-parameter options (parameter groups)", 2)
  end
  self._params = self.param_groups[1].params
  self._round = self._params[1].dtype == 'float32' and f32 or ident
end

function LBFGS:_fill_defaults(o)
  if o.max_eval == nil and type(o.max_iter) == 'number' then o.max_eval = o.max_iter * 5 // 4 end
end

function LBFGS:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'max_iter', 1)
  self:_check_number(o, 'max_eval', 1)
  self:_check_number(o, 'tolerance_grad', 0)
  self:_check_number(o, 'tolerance_change', 0)
  self:_check_number(o, 'history_size', 1)
  if o.line_search_fn ~= nil and o.line_search_fn ~= 'strong_wolfe' then
    self:_fail("line_search_fn must be nil or 'strong_wolfe', got %s", tostring(o.line_search_fn))
  end
end

function LBFGS:_on_add_group(_, level)
  if #self.param_groups >= 1 then
    error("LBFGS: doesn't support per-parameter options (parameter groups)", level)
  end
end

function LBFGS:_gather_flat_grad()
  local views = {}
  for i, p in ipairs(self._params) do
    local g = p.grad
    views[i] = g and g:reshape(-1) or torch.zeros(p:numel(), { dtype = p.dtype })
  end
  return torch.cat(views, 1)
end

function LBFGS:_add_grad(step, update)
  local offset = 1
  for _, p in ipairs(self._params) do
    local n = p:numel()
    p:add_(update:narrow(1, offset, n):view_as(p), { alpha = step })
    offset = offset + n
  end
end

function LBFGS:_clone_param()
  local r = {}
  for i, p in ipairs(self._params) do r[i] = p:clone() end
  return r
end

function LBFGS:_set_param(data)
  for i, p in ipairs(self._params) do p:copy_(data[i]) end
end

local function tonum(x)
  if torch.isTensor(x) then return x:item() end
  if type(x) ~= 'number' then error('LBFGS: the closure must return the loss (a number or a 1-element tensor)', 4) end
  return x
end

-- loss and flat gradient at x + t d (the parameters are restored afterwards)
function LBFGS:_directional_evaluate(closure, x, t, d)
  self:_add_grad(t, d)
  local loss = tonum(torch.enable_grad(closure))
  local g = self:_gather_flat_grad()
  self:_set_param(x)
  return loss, g
end

local function cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi)
  if lo == nil then
    if x1 <= x2 then lo, hi = x1, x2 else lo, hi = x2, x1 end
  end
  local d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
  local d2sq = d1 ^ 2 - g1 * g2
  if d2sq >= 0 then
    local d2 = math.sqrt(d2sq)
    local min_pos
    if x1 <= x2 then
      min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else
      min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    end
    return math.min(math.max(min_pos, lo), hi)
  end
  return (lo + hi) / 2
end

local function strong_wolfe(obj, x, t, d, f, g, gtd, tolerance_change)
  local c1, c2, max_ls = 1e-4, 0.9, 25
  local d_norm = d:abs():max():item()
  g = g:clone()
  local f_new, g_new = obj(x, t, d)
  local evals = 1
  local gtd_new = g_new:dot(d):item()
  local t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
  local done, ls_iter = false, 0
  local bracket, bf, bg, bgtd
  while ls_iter < max_ls do
    if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev) then
      bracket, bf, bg, bgtd = { t_prev, t }, { f_prev, f_new }, { g_prev, g_new:clone() }, { gtd_prev, gtd_new }
      break
    end
    if math.abs(gtd_new) <= -c2 * gtd then
      bracket, bf, bg = { t }, { f_new }, { g_new }
      done = true
      break
    end
    if gtd_new >= 0 then
      bracket, bf, bg, bgtd = { t_prev, t }, { f_prev, f_new }, { g_prev, g_new:clone() }, { gtd_prev, gtd_new }
      break
    end
    local min_step, max_step = t + 0.01 * (t - t_prev), t * 10
    local tmp = t
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step)
    t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new:clone(), gtd_new
    f_new, g_new = obj(x, t, d)
    evals = evals + 1
    gtd_new = g_new:dot(d):item()
    ls_iter = ls_iter + 1
  end
  if ls_iter == max_ls then
    bracket, bf, bg = { 0, t }, { f, f_new }, { g, g_new }
  end
  -- zoom: shrink the bracket until a point satisfies the strong Wolfe conditions
  local insuf = false
  local low, high = 1, 2
  if not (bf[1] <= bf[#bf]) then low, high = 2, 1 end
  while not done and ls_iter < max_ls do
    if math.abs(bracket[2] - bracket[1]) * d_norm < tolerance_change then break end
    t = cubic_interpolate(bracket[1], bf[1], bgtd[1], bracket[2], bf[2], bgtd[2])
    local bmax, bmin = math.max(bracket[1], bracket[2]), math.min(bracket[1], bracket[2])
    local eps = 0.1 * (bmax - bmin)
    if math.min(bmax - t, t - bmin) < eps then
      if insuf or t >= bmax or t <= bmin then
        if math.abs(t - bmax) < math.abs(t - bmin) then t = bmax - eps else t = bmin + eps end
        insuf = false
      else
        insuf = true
      end
    else
      insuf = false
    end
    f_new, g_new = obj(x, t, d)
    evals = evals + 1
    gtd_new = g_new:dot(d):item()
    ls_iter = ls_iter + 1
    if f_new > f + c1 * t * gtd or f_new >= bf[low] then
      bracket[high], bf[high], bg[high], bgtd[high] = t, f_new, g_new:clone(), gtd_new
      if bf[1] <= bf[2] then low, high = 1, 2 else low, high = 2, 1 end
    else
      if math.abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (bracket[high] - bracket[low]) >= 0 then
        bracket[high], bf[high], bg[high], bgtd[high] = bracket[low], bf[low], bg[low], bgtd[low]
      end
      bracket[low], bf[low], bg[low], bgtd[low] = t, f_new, g_new:clone(), gtd_new
    end
  end
  return bf[low], bg[low], bracket[low], evals
end

function LBFGS:step(closure)
  if type(closure) ~= 'function' then
    error('LBFGS: step needs a closure that re-evaluates the model and returns the loss', 2)
  end
  local group = self.param_groups[1]
  local lr, max_iter, max_eval = group.lr, group.max_iter, group.max_eval
  local tol_grad, tol_change = group.tolerance_grad, group.tolerance_change
  local history_size = group.history_size
  local rnd = self._round
  local state = self.state[self._params[1]]
  if not state then state = {}; self.state[self._params[1]] = state end
  state.func_evals = state.func_evals or 0
  state.n_iter = state.n_iter or 0

  local orig_loss = torch.enable_grad(closure)
  local loss = tonum(orig_loss)
  local current_evals = 1
  state.func_evals = state.func_evals + 1
  return torch.no_grad(function()
    local flat_grad = self:_gather_flat_grad()
    local opt_cond = flat_grad:abs():max():item() <= tol_grad
    if opt_cond then return orig_loss end
    local d, t = state.d, state.t
    local old_dirs, old_stps, ro = state.old_dirs, state.old_stps, state.ro
    local H_diag, prev_flat_grad, prev_loss = state.H_diag, state.prev_flat_grad, state.prev_loss
    local n_iter = 0
    while n_iter < max_iter do
      n_iter = n_iter + 1
      state.n_iter = state.n_iter + 1
      if state.n_iter == 1 then
        d = flat_grad:neg()
        old_dirs, old_stps, ro, H_diag = {}, {}, {}, 1
      else
        local y = flat_grad:sub(prev_flat_grad)
        local s = d:mul(t)
        local ys = y:dot(s):item()
        if ys > 1e-10 then
          if #old_dirs == history_size then
            table.remove(old_dirs, 1); table.remove(old_stps, 1); table.remove(ro, 1)
          end
          old_dirs[#old_dirs + 1] = y
          old_stps[#old_stps + 1] = s
          ro[#ro + 1] = rnd(1 / ys)
          H_diag = rnd(ys / y:dot(y):item())
        end
        -- two-loop recursion: d = -H g
        local num_old = #old_dirs
        local al = {}
        local q = flat_grad:neg()
        for i = num_old, 1, -1 do
          al[i] = rnd(old_stps[i]:dot(q):item() * ro[i])
          q:add_(old_dirs[i], { alpha = -al[i] })
        end
        local r = torch.mul(q, H_diag)
        d = r
        for i = 1, num_old do
          local be_i = rnd(old_dirs[i]:dot(r):item() * ro[i])
          r:add_(old_stps[i], { alpha = al[i] - be_i })
        end
      end
      if prev_flat_grad == nil then prev_flat_grad = flat_grad:clone() else prev_flat_grad:copy_(flat_grad) end
      prev_loss = loss
      if state.n_iter == 1 then
        t = math.min(1, rnd(1 / flat_grad:abs():sum():item())) * lr
      else
        t = lr
      end
      local gtd = flat_grad:dot(d):item()
      if gtd > -tol_change then break end
      local ls_evals = 0
      if group.line_search_fn ~= nil then
        local x_init = self:_clone_param()
        local function obj(x, tt, dd) return self:_directional_evaluate(closure, x, tt, dd) end
        loss, flat_grad, t, ls_evals = strong_wolfe(obj, x_init, t, d, loss, flat_grad, gtd, tol_change)
        self:_add_grad(t, d)
        opt_cond = flat_grad:abs():max():item() <= tol_grad
      else
        self:_add_grad(t, d)
        if n_iter ~= max_iter then
          loss = tonum(torch.enable_grad(closure))
          flat_grad = self:_gather_flat_grad()
          opt_cond = flat_grad:abs():max():item() <= tol_grad
          ls_evals = 1
        end
      end
      current_evals = current_evals + ls_evals
      state.func_evals = state.func_evals + ls_evals
      if n_iter == max_iter then break end
      if current_evals >= max_eval then break end
      if opt_cond then break end
      if d:mul(t):abs():max():item() <= tol_change then break end
      if math.abs(loss - prev_loss) < tol_change then break end
    end
    state.d, state.t, state.old_dirs, state.old_stps, state.ro = d, t, old_dirs, old_stps, ro
    state.H_diag, state.prev_flat_grad, state.prev_loss = H_diag, prev_flat_grad, prev_loss
    return orig_loss
  end)
end

return LBFGS
