-- nn.functional dropout: dropout (elementwise), dropout1d/2d/3d (whole channels),
-- alpha_dropout and feature_alpha_dropout, composed from differentiable tensor ops.
-- Arguments follow PyTorch, positionally or as a trailing options table:
--   F.dropout(x, 0.2), F.dropout(x, {p=0.2, training=false}), F.dropout2d(x, 0.5, true)
-- In training the kept values are scaled by 1/(1-p); with training=false (or p=0)
-- the input is returned unchanged. inplace=true writes into the input.
local torch = require 'torch'

local F = {}

local NAMES = { 'p', 'training', 'inplace' }

local function args(what, train_default, ...)
  local n = select('#', ...)
  local res, opts = {}, nil
  local last = n > 0 and select(n, ...) or nil
  if type(last) == 'table' and not torch.isTensor(last) and getmetatable(last) == nil and rawlen(last) == 0 then
    opts, n = last, n - 1
  end
  if n > #NAMES then error(('%s: expected at most %d arguments after the input, got %d'):format(what, #NAMES, n), 3) end
  for i = 1, n do res[NAMES[i]] = select(i, ...) end
  if opts then
    for k, v in pairs(opts) do
      if k ~= 'p' and k ~= 'training' and k ~= 'inplace' then
        error(('%s: unknown option \'%s\''):format(what, tostring(k)), 3)
      end
      res[k] = v
    end
  end
  if res.p == nil then res.p = 0.5 end
  if res.training == nil then res.training = train_default end
  if res.inplace == nil then res.inplace = false end
  if type(res.p) ~= 'number' or res.p ~= res.p or res.p < 0 or res.p > 1 then
    error(('%s: dropout probability has to be between 0 and 1, but got %s'):format(what, tostring(res.p)), 3)
  end
  if type(res.training) ~= 'boolean' then
    error(('%s: training must be a boolean, got %s'):format(what, type(res.training)), 3)
  end
  if type(res.inplace) ~= 'boolean' then
    error(('%s: inplace must be a boolean, got %s'):format(what, type(res.inplace)), 3)
  end
  return res
end

local function check(x, what)
  if not torch.isTensor(x) then
    error(('%s: expected a tensor as input, got %s'):format(what, torch.type(x)), 3)
  end
  if not x:is_floating_point() then
    error(('%s: expected a floating point input, got %s'):format(what, x:type()), 3)
  end
end

-- x * noise [+ b], in place when asked
local function apply(x, noise, b, inplace)
  if inplace then
    x:mul_(noise)
    if b then x:add_(b) end
    return x
  end
  local y = x * noise
  if b then y = y + b end
  return y
end

-- noise_shape: the shape of the Bernoulli mask (broadcast over the rest), or nil
-- for one draw per element
local function impl(x, a, alpha, noise_shape)
  if not a.training or a.p == 0 or x:numel() == 0 then return x end
  if a.p == 1 then return apply(x, torch.zeros({}, { dtype = x.dtype, device = x.device }), nil, a.inplace) end
  local shape = noise_shape or x:size()
  local noise = torch.empty(shape, { dtype = x.dtype, device = x.device }):bernoulli_(1 - a.p)
  if alpha then
    local al = 1.7580993408473766
    local m = 1 / math.sqrt((al * al * a.p + 1) * (1 - a.p))
    local b = (noise - 1) * (al * m) + al * m * a.p
    return apply(x, noise * m, b, a.inplace)
  end
  return apply(x, noise / (1 - a.p), nil, a.inplace)
end

-- F.dropout(x [, p=0.5, training=true, inplace=false])
function F.dropout(x, ...)
  check(x, 'dropout')
  return impl(x, args('dropout', true, ...), false)
end

-- F.alpha_dropout(x [, p=0.5, training=false, inplace=false]) (also feature_alpha_dropout): keeps the mean and
-- variance of SELU activations (dropped values become -alpha*scale, then an affine fix)
function F.alpha_dropout(x, ...)
  check(x, 'alpha_dropout')
  return impl(x, args('alpha_dropout', false, ...), true) -- training=false by default, as PyTorch
end

-- channel mask shape: the batch and channel dims of x, ones for the feature dims
local function feature_shape(x, nfeat)
  local s = x:size()
  for i = #s - nfeat + 1, #s do s[i] = 1 end
  return s
end

local function feature(name, nd, alpha)
  return function(x, ...)
    check(x, name)
    local a = args(name, not alpha, ...)
    local d = x:dim()
    if nd == 1 and d ~= 2 and d ~= 3 then
      error(('%s: expected a 2D or 3D input (C, L) or (N, C, L), got %dD input'):format(name, d), 2)
    elseif nd == 2 and d ~= 3 and d ~= 4 then
      error(('%s: expected a 3D or 4D input (N, C, L) or (N, C, H, W), got %dD input'):format(name, d), 2)
    elseif nd == 3 and d ~= 4 and d ~= 5 then
      error(('%s: expected a 4D or 5D input (C, D, H, W) or (N, C, D, H, W), got %dD input'):format(name, d), 2)
    elseif nd == 0 and d < 2 then
      error(('%s: expected an input with at least 2 dims (N, C, ...), got %dD input'):format(name, d), 2)
    end
    -- dropout2d on a 3D input drops whole 1D channels (N, C, L), as PyTorch does
    local nfeat = nd == 0 and d - 2 or (nd == 2 and d == 3) and 1 or nd
    return impl(x, a, alpha, feature_shape(x, nfeat))
  end
end

F.dropout1d = feature('dropout1d', 1, false)
F.dropout2d = feature('dropout2d', 2, false)
F.dropout3d = feature('dropout3d', 3, false)
F.feature_alpha_dropout = feature('feature_alpha_dropout', 0, true)

return F
