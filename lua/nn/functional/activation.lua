-- nn.functional activations, written with differentiable tensor ops (their
-- gradients come from autograd). Arguments follow PyTorch: positionally or as a
-- trailing options table (F.leaky_relu(x, 0.2) or F.leaky_relu(x, {negative_slope=0.2})).
-- With inplace=true the result is written into the input, which is returned (as
-- PyTorch; under autograd the write is recorded like any in-place op, so a leaf
-- that requires grad is refused). Except for relu the result is computed first.
local torch = require 'torch'

local F = {}

local function check(x, what)
  if not torch.isTensor(x) then
    error(('%s: expected a tensor as input, got %s'):format(what, torch.type(x)), 3)
  end
  if not x:is_floating_point() then
    error(('%s: expected a floating point input, got %s'):format(what, x:type()), 3)
  end
  return x
end

local function args(what, names, defaults, ...)
  local n = select('#', ...)
  local res, opts = {}, nil
  local last = n > 0 and select(n, ...) or nil
  if type(last) == 'table' and not torch.isTensor(last) and rawlen(last) == 0 then opts, n = last, n - 1 end
  if n > #names then error(('%s: expected at most %d arguments after the input, got %d'):format(what, #names, n), 3) end
  for i = 1, n do res[names[i]] = select(i, ...) end
  if opts then
    local known = {}
    for _, k in ipairs(names) do known[k] = true end
    for k, v in pairs(opts) do
      if not known[k] then error(('%s: unknown option \'%s\'%s'):format(what, tostring(k), torch._did_you_mean(k, names)), 3) end
      res[k] = v
    end
  end
  for _, k in ipairs(names) do
    if res[k] == nil then res[k] = defaults[k] end
    if type(defaults[k]) == 'number' and type(res[k]) ~= 'number' then
      error(('%s: %s must be a number, got %s'):format(what, k, type(res[k])), 3)
    end
  end
  return res
end
F._args = args

-- Under autograd an in-place result is computed from a copy of x: its graph may
-- save x, which the write would change.
local function source(x, inplace)
  if inplace == true and x.requires_grad and torch.is_grad_enabled() then return x:clone() end
  return x
end

local function finish(x, r, inplace)
  if inplace == true then return x:copy_(r) end
  return r
end

-- where x <= lo: lo, x >= hi: hi, else x; the gradient passes only strictly
-- inside (lo, hi), as PyTorch's hardtanh
local function hardtanh(x, lo, hi)
  return torch.where(x:le(lo), lo, torch.where(x:ge(hi), hi, x))
end

function F.relu(x, ...)
  check(x, 'relu')
  local a = args('relu', { 'inplace' }, { inplace = false }, ...)
  if a.inplace == true then return x:relu_() end
  return torch.relu(x)
end

function F.relu6(x, ...)
  check(x, 'relu6')
  local a = args('relu6', { 'inplace' }, { inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, hardtanh(y, 0, 6), a.inplace)
end

function F.hardtanh(x, ...)
  check(x, 'hardtanh')
  local a = args('hardtanh', { 'min_val', 'max_val', 'inplace' }, { min_val = -1.0, max_val = 1.0, inplace = false }, ...)
  if a.min_val > a.max_val then
    error(('hardtanh: min_val (%g) cannot be greater than max_val (%g)'):format(a.min_val, a.max_val), 2)
  end
  local y = source(x, a.inplace)
  return finish(x, hardtanh(y, a.min_val, a.max_val), a.inplace)
end

function F.leaky_relu(x, ...)
  check(x, 'leaky_relu')
  local a = args('leaky_relu', { 'negative_slope', 'inplace' }, { negative_slope = 0.01, inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, torch.where(y:gt(0), y, y * a.negative_slope), a.inplace)
end

-- prelu(x, weight): weight has 1 element or one per channel (dim 2 of x)
function F.prelu(x, weight)
  check(x, 'prelu')
  if not torch.isTensor(weight) then error('prelu: expected a weight tensor, got ' .. torch.type(weight), 2) end
  local n = weight:numel()
  local w = weight
  if n ~= 1 then
    local c = x:dim() >= 2 and x:size(2) or 1
    if n ~= c then
      error(('prelu: weight has %d elements but the input has %d channels (dim 2 of input size %s)'):format(n, c,
        table.concat(x:size(), 'x')), 2)
    end
    local shape = { c }
    for d = 3, x:dim() do shape[d - 1] = 1 end
    w = weight:reshape(shape)
  elseif weight:dim() > 0 then
    w = weight:reshape({})
  end
  return torch.where(x:gt(0), x, x * w)
end

-- rrelu(x, {lower=1/8, upper=1/3, training=false}): random negative slopes
-- drawn from U(lower, upper) in training, their mean otherwise
function F.rrelu(x, ...)
  check(x, 'rrelu')
  local a = args('rrelu', { 'lower', 'upper', 'training', 'inplace' },
    { lower = 1 / 8, upper = 1 / 3, training = false, inplace = false }, ...)
  local y = source(x, a.inplace)
  if a.training then
    local noise = torch.empty(x:size(), { dtype = x.dtype }):uniform_(a.lower, a.upper)
    return finish(x, torch.where(y:ge(0), y, y * noise), a.inplace)
  end
  return finish(x, torch.where(y:ge(0), y, y * ((a.lower + a.upper) / 2)), a.inplace)
end

function F.elu(x, ...)
  check(x, 'elu')
  local a = args('elu', { 'alpha', 'inplace' }, { alpha = 1.0, inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, torch.where(y:gt(0), y, (y:clamp({ max = 0 }):exp() - 1) * a.alpha), a.inplace)
end

local SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

function F.selu(x, ...)
  check(x, 'selu')
  local a = args('selu', { 'inplace' }, { inplace = false }, ...)
  local y = source(x, a.inplace)
  local neg = (y:clamp({ max = 0 }):exp() - 1) * (SELU_ALPHA * SELU_SCALE)
  return finish(x, torch.where(y:gt(0), y * SELU_SCALE, neg), a.inplace)
end

function F.celu(x, ...)
  check(x, 'celu')
  local a = args('celu', { 'alpha', 'inplace' }, { alpha = 1.0, inplace = false }, ...)
  if a.alpha == 0 then error('celu: alpha cannot be 0', 2) end
  local y = source(x, a.inplace)
  return finish(x, torch.where(y:gt(0), y, ((y:clamp({ max = 0 }) / a.alpha):exp() - 1) * a.alpha), a.inplace)
end

-- gelu(x, {approximate='none'|'tanh'})
function F.gelu(x, ...)
  check(x, 'gelu')
  local a = args('gelu', { 'approximate' }, { approximate = 'none' }, ...)
  if a.approximate == 'tanh' then
    local inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
    return x * 0.5 * (torch.tanh(inner) + 1)
  elseif a.approximate == 'none' then
    return x * 0.5 * (torch.erf(x * (1 / math.sqrt(2))) + 1)
  end
  error("gelu: approximate must be 'none' or 'tanh', got " .. tostring(a.approximate), 2)
end

function F.silu(x, ...)
  check(x, 'silu')
  local a = args('silu', { 'inplace' }, { inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, y * torch.sigmoid(y), a.inplace)
end

-- softplus(x, {beta=1, threshold=20}): log(1 + exp(beta x)) / beta, x itself
-- where beta x > threshold
function F.softplus(x, ...)
  check(x, 'softplus')
  local a = args('softplus', { 'beta', 'threshold' }, { beta = 1, threshold = 20 }, ...)
  local z = x * a.beta
  local soft = torch.log1p(torch.exp(z:clamp({ max = a.threshold }))) / a.beta
  return torch.where(z:gt(a.threshold), x, soft)
end

function F.mish(x, ...)
  check(x, 'mish')
  local a = args('mish', { 'inplace' }, { inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, y * torch.tanh(F.softplus(y)), a.inplace)
end

function F.sigmoid(x)
  check(x, 'sigmoid')
  return torch.sigmoid(x)
end

function F.tanh(x)
  check(x, 'tanh')
  return torch.tanh(x)
end

function F.hardsigmoid(x, ...)
  check(x, 'hardsigmoid')
  local a = args('hardsigmoid', { 'inplace' }, { inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, hardtanh(y + 3, 0, 6) / 6, a.inplace)
end

function F.hardswish(x, ...)
  check(x, 'hardswish')
  local a = args('hardswish', { 'inplace' }, { inplace = false }, ...)
  local y = source(x, a.inplace)
  return finish(x, y * hardtanh(y + 3, 0, 6) / 6, a.inplace)
end

function F.softsign(x)
  check(x, 'softsign')
  return x / (torch.abs(x) + 1)
end

function F.softshrink(x, ...)
  check(x, 'softshrink')
  local a = args('softshrink', { 'lambd' }, { lambd = 0.5 }, ...)
  if a.lambd < 0 then error(('softshrink: lambd must be at least 0, got %g'):format(a.lambd), 2) end
  local l = a.lambd
  return torch.where(x:gt(l), x - l, torch.where(x:lt(-l), x + l, x * 0))
end

function F.hardshrink(x, ...)
  check(x, 'hardshrink')
  local a = args('hardshrink', { 'lambd' }, { lambd = 0.5 }, ...)
  local l = a.lambd
  return torch.where(x:gt(l):logical_or(x:lt(-l)), x, x * 0)
end

function F.tanhshrink(x)
  check(x, 'tanhshrink')
  return x - torch.tanh(x)
end

-- threshold(x, threshold, value): x where x > threshold, value elsewhere
function F.threshold(x, ...)
  check(x, 'threshold')
  local a = args('threshold', { 'threshold', 'value', 'inplace' }, { inplace = false }, ...)
  if type(a.threshold) ~= 'number' or type(a.value) ~= 'number' then
    error('threshold: expected numbers threshold and value (threshold(x, threshold, value))', 2)
  end
  local y = source(x, a.inplace)
  return finish(x, torch.where(y:gt(a.threshold), y, a.value), a.inplace)
end

-- logsigmoid(x) = -softplus(-x), stable for large |x|
function F.logsigmoid(x)
  check(x, 'logsigmoid')
  return -F.softplus(-x)
end

-- PyTorch's implicit softmax dim (deprecated there): 1 for 0-, 1- and 3-d input, else 2
local function softmax_dim(x, dim, what)
  if dim == nil then
    local nd = x:dim()
    return (nd == 0 or nd == 1 or nd == 3) and 1 or 2
  end
  if math.type(dim) ~= 'integer' then
    error(('%s: dim must be an integer, got %s'):format(what, math.type(dim) or type(dim)), 3)
  end
  return dim
end

local function softmax_like(name, fn, negate)
  return function(x, dim, opts)
    check(x, name)
    if type(dim) == 'table' then dim, opts = dim.dim, dim end
    if type(opts) == 'table' and opts.dim ~= nil and dim == nil then dim = opts.dim end
    dim = softmax_dim(x, dim, name)
    if type(opts) == 'table' and opts.dtype then x = x:to(opts.dtype) end
    if negate then x = -x end
    return fn(x, dim)
  end
end

-- softmax(x, dim [, {dtype=}]); dim is 1-based
F.softmax = softmax_like('softmax', torch.softmax)
F.log_softmax = softmax_like('log_softmax', torch.log_softmax)
F.softmin = softmax_like('softmin', torch.softmax, true)

-- glu(x, dim=-1): first half * sigmoid(second half) along dim
function F.glu(x, dim)
  check(x, 'glu')
  if type(dim) == 'table' then dim = dim.dim end
  dim = dim or -1
  if math.type(dim) ~= 'integer' then error('glu: dim must be an integer', 2) end
  local nd = x:dim()
  if nd == 0 then error('glu: does not work on a 0-d tensor', 2) end
  local d = dim < 0 and nd + dim + 1 or dim
  if d < 1 or d > nd then error(('glu: dim %d is out of range for a %d-d input'):format(dim, nd), 2) end
  local n = x:size(d)
  if n % 2 ~= 0 then
    error(('glu: halving dimension must be even, but dimension %d is size %d'):format(d, n), 2)
  end
  local h = n // 2
  return x:narrow(d, 1, h) * torch.sigmoid(x:narrow(d, h + 1, h))
end

-- gumbel_softmax(logits, {tau=1, hard=false, dim=-1}) (or positionally tau, hard, eps,
-- dim as PyTorch; eps is unused there too): a sample from the Gumbel-softmax
-- distribution, softmax((logits + g) / tau) along dim (1-based, default the last)
-- with g = -log(E), E ~ Exponential(1) from the default generator (torch.manual_seed
-- makes it repeat). hard=true returns the one-hot of the sample's argmax whose
-- gradient is the soft sample's (straight-through: y_hard - y_soft:detach() + y_soft).
function F.gumbel_softmax(logits, ...)
  check(logits, 'gumbel_softmax')
  local a = args('gumbel_softmax', { 'tau', 'hard', 'eps', 'dim' }, { tau = 1, hard = false, eps = 1e-10, dim = -1 },
    ...)
  if math.type(a.dim) ~= 'integer' then
    error(('gumbel_softmax: dim must be an integer, got %s'):format(tostring(a.dim)), 2)
  end
  if type(a.hard) ~= 'boolean' then error('gumbel_softmax: hard must be a boolean, got ' .. type(a.hard), 2) end
  if not (a.tau > 0) then error('gumbel_softmax: tau must be positive, got ' .. tostring(a.tau), 2) end
  local nd = math.max(logits:dim(), 1)
  local d = a.dim < 0 and nd + a.dim + 1 or a.dim
  if d < 1 or d > nd then
    error(('gumbel_softmax: dim %d is out of range for a %d-d input'):format(a.dim, logits:dim()), 2)
  end
  local gumbels = -torch.empty_like(logits, { requires_grad = false }):exponential_():log()
  local y_soft = torch.softmax((logits + gumbels) / a.tau, d)
  if not a.hard then return y_soft end
  local index = y_soft:detach():argmax(d, { keepdim = true })
  local y_hard = torch.zeros_like(logits, { requires_grad = false }):scatter(d, index, 1.0)
  return y_hard - y_soft:detach() + y_soft
end

return F
