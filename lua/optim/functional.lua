-- Torch7's functional optimizers, for porting Torch7 scripts: each takes
-- feval(x) -> f, df/dx, a flat parameter tensor x (see nn.Module:getParameters),
-- a config table of Torch7's keys and an optional state table (default: config), and
-- updates x in place. sgd/adam/adagrad/rmsprop return x, {f(x before the step)};
-- lbfgs and cg return x, {f values}, the number of evaluations.
--   local params, grads = net:getParameters()
--   local function feval(p) grads:zero_(); local l = crit(net(input), target); l:backward(); return l:item(), grads end
--   optim.sgd(feval, params, {learningRate = 0.01, momentum = 0.9})
-- The update rules are Torch7's (torch/optim), including its defaults: sgd's
-- dampening defaults to the momentum, and weight decay is added to the gradient that
-- feval returned (in place, as Torch7 did).
local torch = require 'torch'
local optim = require 'optim'

local function check(what, feval, x, config, state)
  if type(feval) ~= 'function' and not (getmetatable(feval) or {}).__call then
    error(what .. ': expected feval (a function returning f, df/dx) as argument 1, got ' .. type(feval), 3)
  end
  if not torch.isTensor(x) then error(what .. ': expected a parameter tensor as argument 2, got ' .. torch.type(x), 3) end
  if config ~= nil and type(config) ~= 'table' then error(what .. ': config must be a table, got ' .. type(config), 3) end
  if state ~= nil and type(state) ~= 'table' then error(what .. ': state must be a table, got ' .. type(state), 3) end
  config = config or {}
  return config, state or config
end

local function evaluate(what, feval, x)
  local f, g = feval(x)
  if torch.isTensor(f) then f = f:item() end
  if type(f) ~= 'number' or not torch.isTensor(g) then
    error(what .. ': feval must return f (a number) and df/dx (a tensor)', 3)
  end
  if g:numel() ~= x:numel() then
    error(('%s: df/dx has %d elements but x has %d'):format(what, g:numel(), x:numel()), 3)
  end
  return f, g
end

-- a per-element option given as a tensor or a Lua list
local function as_tensor(v, like)
  if torch.isTensor(v) then return v end
  return torch.tensor(v, { dtype = like.dtype }):view(like:size())
end

-- ---- first-order methods ----

-- optim.sgd: learningRate (1e-3), learningRateDecay, weightDecay / weightDecays,
-- momentum, dampening (= momentum), nesterov, learningRates
function optim.sgd(feval, x, config, state)
  config, state = check('sgd', feval, x, config, state)
  local lr = config.learningRate or 1e-3
  local lrd = config.learningRateDecay or 0
  local wd = config.weightDecay or 0
  local mom = config.momentum or 0
  local damp = config.dampening or mom
  local nesterov = config.nesterov or false
  if nesterov and (mom <= 0 or damp ~= 0) then
    error('sgd: Nesterov momentum requires a momentum and zero dampening', 2)
  end
  state.evalCounter = state.evalCounter or 0
  local fx, g = evaluate('sgd', feval, x)
  if wd ~= 0 then
    g:add_(x, { alpha = wd })
  elseif config.weightDecays then
    g:add_(as_tensor(config.weightDecays, x) * x)
  end
  if mom ~= 0 then
    if not state.dfdx then
      state.dfdx = g:clone()
    else
      state.dfdx:mul_(mom):add_(g, { alpha = 1 - damp })
    end
    if nesterov then g:add_(state.dfdx, { alpha = mom }) else g = state.dfdx end
  end
  local clr = lr / (1 + state.evalCounter * lrd)
  if config.learningRates then
    x:add_(as_tensor(config.learningRates, x) * g, { alpha = -clr })
  else
    x:add_(g, { alpha = -clr })
  end
  state.evalCounter = state.evalCounter + 1
  return x, { fx }
end

-- optim.adam: learningRate (1e-3), learningRateDecay, beta1 (0.9), beta2 (0.999),
-- epsilon (1e-8), weightDecay
function optim.adam(feval, x, config, state)
  config, state = check('adam', feval, x, config, state)
  local lr = config.learningRate or 0.001
  local lrd = config.learningRateDecay or 0
  local b1, b2 = config.beta1 or 0.9, config.beta2 or 0.999
  local eps = config.epsilon or 1e-8
  local wd = config.weightDecay or 0
  local fx, g = evaluate('adam', feval, x)
  if wd ~= 0 then g:add_(x, { alpha = wd }) end
  state.t = state.t or 0
  state.m = state.m or torch.zeros_like(g)
  state.v = state.v or torch.zeros_like(g)
  local clr = lr / (1 + state.t * lrd)
  state.t = state.t + 1
  state.m:mul_(b1):add_(g, { alpha = 1 - b1 })
  state.v:mul_(b2):addcmul_(g, g, { value = 1 - b2 })
  local denom = state.v:sqrt():add_(eps)
  local step = clr * math.sqrt(1 - b2 ^ state.t) / (1 - b1 ^ state.t)
  x:addcdiv_(state.m, denom, { value = -step })
  return x, { fx }
end

-- optim.adagrad: learningRate (1e-3), learningRateDecay, weightDecay
function optim.adagrad(feval, x, config, state)
  config, state = check('adagrad', feval, x, config, state)
  local lr = config.learningRate or 1e-3
  local lrd = config.learningRateDecay or 0
  local wd = config.weightDecay or 0
  state.evalCounter = state.evalCounter or 0
  local fx, g = evaluate('adagrad', feval, x)
  if wd ~= 0 then g:add_(x, { alpha = wd }) end
  local clr = lr / (1 + state.evalCounter * lrd)
  state.paramVariance = state.paramVariance or torch.zeros_like(g)
  state.paramVariance:addcmul_(g, g)
  state.paramStd = state.paramVariance:sqrt():add_(1e-10)
  x:addcdiv_(g, state.paramStd, { value = -clr })
  state.evalCounter = state.evalCounter + 1
  return x, { fx }
end

-- optim.rmsprop: learningRate (1e-2), alpha (0.99), epsilon (1e-8), weightDecay,
-- initialMean (0)
function optim.rmsprop(feval, x, config, state)
  config, state = check('rmsprop', feval, x, config, state)
  local lr = config.learningRate or 1e-2
  local alpha = config.alpha or 0.99
  local eps = config.epsilon or 1e-8
  local wd = config.weightDecay or 0
  local fx, g = evaluate('rmsprop', feval, x)
  if wd ~= 0 then g:add_(x, { alpha = wd }) end
  state.m = state.m or torch.zeros_like(g):fill_(config.initialMean or 0)
  state.m:mul_(alpha):addcmul_(g, g, { value = 1.0 - alpha })
  state.tmp = state.m:sqrt():add_(eps)
  x:addcdiv_(g, state.tmp, { value = -lr })
  return x, { fx }
end

-- ---- line search (Torch7's lswolfe: minFunc's Wolfe line search) ----

-- minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2) within [lo, hi]
-- (default: between the two points); candidates are the bounds, the points and the
-- cubic's critical points, as Torch7's polyinterp tests them
local function cubic_min(x1, f1, g1, x2, f2, g2, lo, hi)
  local bounded = lo ~= nil
  if not bounded then
    -- the common case in closed form, x2 being the point with the larger f
    if f2 < f1 then x1, f1, g1, x2, f2, g2 = x2, f2, g2, x1, f1, g1 end
    local d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    local disc = d1 * d1 - g1 * g2
    lo, hi = math.min(x1, x2), math.max(x1, x2)
    if disc >= 0 then
      local d2 = math.sqrt(disc)
      local t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
      return math.min(math.max(t, lo), hi)
    end
    return (lo + hi) / 2
  end
  local h = x2 - x1
  local c = (3 * (f2 - f1) / h - 2 * g1 - g2) / h
  local d = (g1 + g2 - 2 * (f2 - f1) / h) / (h * h)
  local function p(x) local s = x - x1; return f1 + s * (g1 + s * (c + s * d)) end
  local cands = { lo, hi, x1, x2 }
  if d ~= 0 then
    local disc = 4 * c * c - 12 * d * g1
    if disc >= 0 then
      local r = math.sqrt(disc)
      cands[#cands + 1] = x1 + (-2 * c + r) / (6 * d)
      cands[#cands + 1] = x1 + (-2 * c - r) / (6 * d)
    end
  elseif c ~= 0 then
    cands[#cands + 1] = x1 - g1 / (2 * c)
  end
  local best, fbest = (lo + hi) / 2, math.huge
  for _, x in ipairs(cands) do
    if x == x and x >= lo and x <= hi then
      local fx = p(x)
      if fx < fbest then best, fbest = x, fx end
    end
  end
  return best
end

-- optim.lswolfe(feval, x, t, d, f, g, gtd [, {c1=1e-4, c2=0.9, tolX=1e-9, maxIter=20}])
-- -> f_new, g_new, x_new, t, evaluations
function optim.lswolfe(feval, x, t, d, f, g, gtd, options)
  options = options or {}
  local c1, c2 = options.c1 or 1e-4, options.c2 or 0.9
  local tolX, maxIter = options.tolX or 1e-9, options.maxIter or 20
  local x0 = x:clone()
  local function try(step)
    x:copy_(x0):add_(d, { alpha = step })
    local fn, gn = evaluate('lswolfe', feval, x)
    gn = gn:clone()
    return fn, gn, gn:dot(d):item()
  end
  local f_new, g_new, gtd_new = try(t)
  local evals, iter, done = 1, 0, false
  local t_prev, f_prev, g_prev, gtd_prev = 0, f, g:clone(), gtd
  -- bracket: {t, f, g, gtd} entries
  local br
  while iter < maxIter do
    if f_new > f + c1 * t * gtd or (iter > 1 and f_new >= f_prev) then
      br = { { t_prev, f_prev, g_prev, gtd_prev }, { t, f_new, g_new, gtd_new } }
      break
    elseif math.abs(gtd_new) <= -c2 * gtd then
      br = { { t, f_new, g_new, gtd_new } }
      done = true
      break
    elseif gtd_new >= 0 then
      br = { { t_prev, f_prev, g_prev, gtd_prev }, { t, f_new, g_new, gtd_new } }
      break
    end
    local t_old = t_prev
    t_prev = t
    t = cubic_min(t_old, f_prev, gtd_prev, t, f_new, gtd_new, t + 0.01 * (t - t_old), t * 10)
    f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
    f_new, g_new, gtd_new = try(t)
    evals = evals + 1
    iter = iter + 1
  end
  if iter == maxIter then
    br = { { 0, f, g, gtd }, { t, f_new, g_new, gtd_new } }
  end
  -- zoom: shrink the bracket until a point satisfies the strong Wolfe conditions
  local insufficient = false
  while not done and iter < maxIter do
    local lo_i = br[1][2] <= br[2][2] and 1 or 2
    local hi_i = 3 - lo_i
    local a, b = br[1], br[2]
    t = cubic_min(a[1], a[2], a[3]:dot(d):item(), b[1], b[2], b[3]:dot(d):item())
    local bmax, bmin = math.max(a[1], b[1]), math.min(a[1], b[1])
    if math.min(bmax - t, t - bmin) / (bmax - bmin) < 0.1 then
      if insufficient or t >= bmax or t <= bmin then
        if math.abs(t - bmax) < math.abs(t - bmin) then
          t = bmax - 0.1 * (bmax - bmin)
        else
          t = bmin + 0.1 * (bmax - bmin)
        end
        insufficient = false
      else
        insufficient = true
      end
    else
      insufficient = false
    end
    f_new, g_new, gtd_new = try(t)
    evals = evals + 1
    iter = iter + 1
    if f_new > f + c1 * t * gtd or f_new >= br[lo_i][2] then
      br[hi_i] = { t, f_new, g_new, gtd_new }
    else
      if math.abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (br[hi_i][1] - br[lo_i][1]) >= 0 then
        br[hi_i] = br[lo_i]
      end
      br[lo_i] = { t, f_new, g_new, gtd_new }
    end
    if not done and math.abs((br[1][1] - br[2][1]) * gtd_new) < tolX then break end
  end
  local best = br[1]
  if br[2] and br[2][2] < best[2] then best = br[2] end
  x:copy_(x0):add_(d, { alpha = best[1] })
  return best[2], best[3], x, best[1], evals
end

-- ---- L-BFGS ----

-- optim.lbfgs: maxIter (20), maxEval (1.25 maxIter), tolFun (1e-5), tolX (1e-9),
-- nCorrection (100), learningRate (1), lineSearch (e.g. optim.lswolfe),
-- lineSearchOptions. Returns x, f history, evaluations. Curvature pairs, direction
-- and step persist in state, so calling it again continues the same run.
function optim.lbfgs(feval, x, config, state)
  config, state = check('lbfgs', feval, x, config, state)
  local maxIter = tonumber(config.maxIter) or 20
  local maxEval = tonumber(config.maxEval) or maxIter * 1.25
  local tolFun, tolX = config.tolFun or 1e-5, config.tolX or 1e-9
  local nCorrection = config.nCorrection or 100
  local lineSearch = config.lineSearch
  local lr = config.learningRate or 1
  if lineSearch ~= nil and type(lineSearch) ~= 'function' then
    error('lbfgs: lineSearch must be a function such as optim.lswolfe', 2)
  end
  state.funcEval = state.funcEval or 0
  state.nIter = state.nIter or 0

  local f, g = evaluate('lbfgs', feval, x)
  local f_hist = { f }
  local evals = 1
  state.funcEval = state.funcEval + 1
  if g:abs():sum():item() <= tolFun then return x, f_hist, evals end

  local d, t = state.d, state.t
  local S_, Y_ = state.old_dirs, state.old_stps -- steps s_k and gradient changes y_k
  local Hdiag, g_old, f_old = state.Hdiag, state.g_old, state.f_old
  local iter = 0
  while iter < maxIter do
    iter = iter + 1
    state.nIter = state.nIter + 1
    if state.nIter == 1 then
      d = -g
      S_, Y_, Hdiag = {}, {}, 1
    else
      local y = g - g_old
      local s = d * t
      local ys = y:dot(s):item()
      if ys > 1e-10 then
        if #S_ == nCorrection then
          table.remove(S_, 1)
          table.remove(Y_, 1)
        end
        S_[#S_ + 1], Y_[#Y_ + 1] = s, y
        Hdiag = ys / y:dot(y):item()
      end
      -- two-loop recursion: d = -H g
      local k = #S_
      local ro, al = {}, {}
      for i = 1, k do ro[i] = 1 / Y_[i]:dot(S_[i]):item() end
      local q = -g
      for i = k, 1, -1 do
        al[i] = S_[i]:dot(q):item() * ro[i]
        q:add_(Y_[i], { alpha = -al[i] })
      end
      d = q:mul_(Hdiag)
      for i = 1, k do
        local be = Y_[i]:dot(d):item() * ro[i]
        d:add_(S_[i], { alpha = al[i] - be })
      end
    end
    g_old = g:clone()
    f_old = f

    local gtd = g:dot(d):item()
    if gtd > -tolX then break end -- no progress along d
    if state.nIter == 1 then
      t = math.min(1, 1 / g:abs():sum():item()) * lr
    else
      t = lr
    end
    local ls_evals = 0
    if lineSearch then
      f, g, x, t, ls_evals = lineSearch(feval, x, t, d, f, g, gtd, config.lineSearchOptions)
      f_hist[#f_hist + 1] = f
    else
      x:add_(d, { alpha = t })
      if iter ~= maxIter then -- the last iteration's value is not needed
        f, g = evaluate('lbfgs', feval, x)
        ls_evals = 1
        f_hist[#f_hist + 1] = f
      end
    end
    evals = evals + ls_evals
    state.funcEval = state.funcEval + ls_evals

    if iter == maxIter then break end
    if evals >= maxEval then break end
    if g:abs():sum():item() <= tolFun then break end
    if (d * t):abs():sum():item() <= tolX then break end
    if math.abs(f - f_old) < tolX then break end
  end
  state.old_dirs, state.old_stps, state.Hdiag = S_, Y_, Hdiag
  state.g_old, state.f_old, state.t, state.d = g_old, f_old, t, d
  return x, f_hist, evals
end

-- ---- nonlinear conjugate gradient (Rasmussen's minimize) ----

-- optim.cg: maxIter (20 line searches), maxEval (1.25 maxIter), rho (0.01), sig (0.5),
-- int (0.1), ext (3.0), ratio (100). Polack-Ribiere directions, a line search by
-- cubic interpolation and extrapolation under the Wolfe-Powell conditions. Returns
-- x, f history (one value per successful line search, plus the start), evaluations.
function optim.cg(feval, x, config, state)
  config, state = check('cg', feval, x, config, state)
  local rho, sig = config.rho or 0.01, config.sig or 0.5
  local int, ext = config.int or 0.1, config.ext or 3.0
  local maxIter = config.maxIter or 20
  local ratio = config.ratio or 100
  local maxEval = config.maxEval or maxIter * 1.25
  local red = 1

  local evals, fx = 0, {}
  local function eval_at()
    local f, g = evaluate('cg', feval, x)
    evals = evals + 1
    return f, g:clone()
  end

  local f1, df1 = eval_at()
  fx[1] = f1
  local s = -df1
  local d1 = -s:dot(s):item()
  local z1 = red / (1 - d1)
  local ls_failed = false
  while evals < math.abs(maxEval) do
    local x0, f0, df0 = x:clone(), f1, df1:clone()
    x:add_(s, { alpha = z1 })
    local f2, df2 = eval_at()
    local d2 = df2:dot(s):item()
    local f3, d3, z3 = f1, d1, -z1
    local m = math.min(maxIter, maxEval - evals)
    local success, limit = false, -1
    while true do
      -- too far (Armijo fails or slope too positive): interpolate back
      while (f2 > f1 + z1 * rho * d1 or d2 > -sig * d1) and m > 0 do
        limit = z1
        local z2
        if f2 > f1 then
          z2 = z3 - (0.5 * d3 * z3 * z3) / (d3 * z3 + f2 - f3) -- quadratic fit
        else
          local A = 6 * (f2 - f3) / z3 + 3 * (d2 + d3) -- cubic fit
          local B = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
          z2 = (math.sqrt(B * B - A * d2 * z3 * z3) - B) / A
        end
        if z2 ~= z2 or z2 == math.huge or z2 == -math.huge then z2 = z3 / 2 end
        z2 = math.max(math.min(z2, int * z3), (1 - int) * z3)
        z1 = z1 + z2
        x:add_(s, { alpha = z2 })
        f2, df2 = eval_at()
        m = m - 1
        d2 = df2:dot(s):item()
        z3 = z3 - z2
      end
      if f2 > f1 + z1 * rho * d1 or d2 > -sig * d1 then break end -- failure
      if d2 > sig * d1 then success = true; break end -- Wolfe-Powell conditions hold
      if m == 0 then break end
      -- extrapolate with a cubic, within limits
      local A = 6 * (f2 - f3) / z3 + 3 * (d2 + d3)
      local B = 3 * (f3 - f2) - z3 * (d3 + 2 * d2)
      local z2 = -d2 * z3 * z3 / (B + math.sqrt(B * B - A * d2 * z3 * z3))
      if z2 ~= z2 or z2 == math.huge or z2 == -math.huge or z2 < 0 then
        z2 = limit < -0.5 and z1 * (ext - 1) or (limit - z1) / 2
      elseif limit > -0.5 and z2 + z1 > limit then
        z2 = (limit - z1) / 2
      elseif limit < -0.5 and z2 + z1 > z1 * ext then
        z2 = z1 * (ext - 1)
      elseif z2 < -z3 * int then
        z2 = -z3 * int
      elseif limit > -0.5 and z2 < (limit - z1) * (1 - int) then
        z2 = (limit - z1) * (1 - int)
      end
      f3, d3, z3 = f2, d2, -z2
      z1 = z1 + z2
      x:add_(s, { alpha = z2 })
      f2, df2 = eval_at()
      m = m - 1
      d2 = df2:dot(s):item()
    end
    if success then
      f1 = f2
      fx[#fx + 1] = f1
      -- Polack-Ribiere direction
      local pr = (df2:dot(df2):item() - df2:dot(df1):item()) / df1:dot(df1):item()
      s = s * pr - df2
      df1, df2 = df2, df1
      d2 = df1:dot(s):item()
      if d2 > 0 then -- not a descent direction: steepest descent
        s = -df1
        d2 = -s:dot(s):item()
      end
      z1 = z1 * math.min(ratio, d1 / (d2 - 1e-320))
      d1 = d2
      ls_failed = false
    else
      x:copy_(x0)
      f1, df1 = f0, df0
      if ls_failed or evals > maxEval then break end -- failed twice in a row, or out of evaluations
      df1, df2 = df2, df1
      s = -df1
      d1 = -s:dot(s):item()
      z1 = 1 / (1 - d1)
      ls_failed = true
    end
  end
  return x, fx, evals
end

return optim
