-- Gradients of the elementwise ops (core/autograd/fn_elementwise.c): gradcheck of
-- every differentiable op on contiguous, non-contiguous and broadcast float64
-- inputs, gradgradcheck for the smooth ones, PyTorch's values at special points
-- (abs and relu at 0, pow at 0^0, maximum's ties, clamp's bounds), the in-place
-- forms, out= refused while recording, and ops that record no node.
local torch = require 'torch'
local H = require 'spec.support.helpers'
local ag = torch.autograd

local G = torch.Generator()
G:manual_seed(20240611)

local function f64(t, opts)
  local o = { dtype = 'float64' }
  for k, v in pairs(opts or {}) do o[k] = v end
  return torch.tensor(t, o)
end

local function uniform(shape, lo, hi)
  return torch.rand(shape, { dtype = 'float64', generator = G }) * (hi - lo) + lo
end

-- Input domains (shape -> float64 tensor), away from each op's kinks and poles.
local D = {
  any = function(s) return uniform(s, -2, 2) end,
  pos = function(s) return uniform(s, 0.3, 2) end,
  unit = function(s) return uniform(s, -0.8, 0.8) end,
  tan = function(s) return uniform(s, -1.2, 1.2) end,
  gtm1 = function(s) return uniform(s, -0.6, 2) end,
  away0 = function(s) -- |x| in [0.3, 2], either sign
    local sign = torch.rand(s, { dtype = 'float64', generator = G }):gt(0.5):double() * 2 - 1
    return uniform(s, 0.3, 2) * sign
  end,
  offint = function(s) -- away from integers and from halves (round)
    return uniform(s, -3, 3):floor() + uniform(s, 0.1, 0.4)
  end,
}

-- The three layouts every op is checked on.
local function layouts(domain)
  return {
    { 'contiguous', function() return D[domain]({ 2, 3 }) end },
    { 'non-contiguous', function() return H.noncontig(D[domain]({ 3, 2 })) end },
    { '0-d', function() return D[domain]({}) end },
  }
end

local function rg(t) return t:requires_grad_(true) end

-- gradgradcheck of fn. The output is multiplied by 1 because gradcheck reads its
-- outputs only after perturbing the inputs back: a gradient passed through
-- unchanged (add's, addcmul's) would alias the perturbed grad_output and look
-- constant to the numerical Jacobian.
local function gradgradcheck(fn, inputs)
  return ag.gradgradcheck(function(...) return fn(...) * 1 end, inputs)
end

-- ---- unary ----

-- name, domain, smooth (gradgradcheck)
local unary = {
  { 'neg', 'any', true }, { 'abs', 'away0', true }, { 'sign', 'offint' }, { 'floor', 'offint' },
  { 'ceil', 'offint' }, { 'round', 'offint' }, { 'trunc', 'offint' }, { 'relu', 'away0', true },
  { 'frac', 'offint', true }, { 'nan_to_num', 'any', true }, { 'exp', 'any', true }, { 'expm1', 'any', true },
  { 'log', 'pos', true }, { 'log1p', 'gtm1', true }, { 'log2', 'pos', true }, { 'log10', 'pos', true },
  { 'sqrt', 'pos', true }, { 'rsqrt', 'pos', true }, { 'reciprocal', 'away0', true }, { 'sin', 'any', true },
  { 'cos', 'any', true }, { 'tan', 'tan', true }, { 'asin', 'unit', true }, { 'acos', 'unit', true },
  { 'atan', 'any', true }, { 'sinh', 'any', true }, { 'cosh', 'any', true }, { 'tanh', 'any', true },
  { 'sigmoid', 'any', true }, { 'erf', 'any', true },
}

local node_names = {
  neg = 'NegBackward', abs = 'AbsBackward', nan_to_num = 'NanToNumBackward', log1p = 'Log1PBackward',
  expm1 = 'Expm1Backward', sigmoid = 'SigmoidBackward', relu = 'ReluBackward', floor = 'FloorBackward',
}

describe('autograd: unary elementwise ops', function()
  for _, u in ipairs(unary) do
    local name, domain, smooth = u[1], u[2], u[3]
    local fn = function(x) return x[name](x) end
    for _, l in ipairs(layouts(domain)) do
      it(('%s: gradcheck, %s'):format(name, l[1]), function()
        assert.is_true(ag.gradcheck(fn, { rg(l[2]()) }))
      end)
    end
    if smooth then
      it(name .. ': gradgradcheck', function()
        assert.is_true(gradgradcheck(fn, { rg(D[domain]({ 2, 3 })) }))
      end)
    end
    it(name .. ': in place matches out of place', function()
      local x = rg(D[domain]({ 2, 3 }))
      local g = ag.grad({ x[name](x):sum() }, { x })[1]
      local y = x * 1
      y[name .. '_'](y)
      H.assert_close(y, x[name](x):detach())
      y:sum():backward()
      H.assert_close(x.grad, g)
      -- and through gradcheck
      assert.is_true(ag.gradcheck(function(a)
        local t = a * 1
        t[name .. '_'](t)
        return t
      end, { rg(D[domain]({ 3 })) }))
    end)
  end

  it('names nodes as PyTorch does (without the trailing digit)', function()
    local x = rg(D.pos({ 3 }))
    for op, want in pairs(node_names) do
      assert.equal(want, x[op](x).grad_fn:name())
    end
    assert.equal('NegBackward', (-x).grad_fn:name())
  end)

  it('abs and relu have gradient 0 at 0; sign, floor, ceil, round, trunc give zeros', function()
    local x = rg(f64 { -1.5, 0, 2.5 })
    x:abs():sum():backward()
    H.assert_close(x.grad, { -1, 0, 1 })
    x.grad = nil
    x:relu():sum():backward()
    H.assert_close(x.grad, { 0, 0, 1 })
    for _, op in ipairs { 'sign', 'floor', 'ceil', 'round', 'trunc' } do
      x.grad = nil
      x[op](x):sum():backward()
      H.assert_close(x.grad, { 0, 0, 0 })
    end
    x.grad = nil
    x:frac():sum():backward()
    H.assert_close(x.grad, { 1, 1, 1 })
  end)

  it('nan_to_num passes the gradient where x is finite only', function()
    local x = rg(f64 { 1.0, 0 / 0, math.huge, -math.huge, -2.0 })
    x:nan_to_num({ nan = 0, posinf = 5, neginf = -5 }):mul(3):sum():backward()
    H.assert_close(x.grad, { 3, 0, 0, 0, 3 })
  end)

  it('sqrt and log at 0 give an infinite gradient, as in PyTorch', function()
    local x = rg(f64 { 0, 4 })
    x:sqrt():sum():backward()
    H.assert_close(x.grad, { math.huge, 0.25 })
    x.grad = nil
    x:log():sum():backward()
    H.assert_close(x.grad, { math.huge, 0.25 })
  end)

  it('formulas that save the result raise after it was modified in place', function()
    local x = rg(D.any({ 3 }))
    local y = x:exp()
    y:add_(1)
    H.assert_error(function() y:sum():backward() end, 'modified by an in-place operation')
  end)

  it('a float32 input gets a float32 gradient', function()
    local x = torch.tensor({ 0.5, 1.5 }, { requires_grad = true })
    x:exp():sum():backward()
    assert.equal('float32', x.grad.dtype)
    H.assert_close(x.grad, torch.tensor({ 0.5, 1.5 }):exp())
  end)
end)

-- ---- binary ----

local function scalar_arg(v) return function() return v end end

-- name, f(a, b), domain of a, domain of b, smooth
local binary = {
  { 'add', function(a, b) return a + b end, 'any', 'any', true },
  { 'add alpha', function(a, b) return torch.add(a, b, { alpha = 2.5 }) end, 'any', 'any', true },
  { 'sub', function(a, b) return a - b end, 'any', 'any', true },
  { 'sub alpha', function(a, b) return torch.sub(a, b, { alpha = -0.5 }) end, 'any', 'any', true },
  { 'mul', function(a, b) return a * b end, 'any', 'any', true },
  { 'div', function(a, b) return a / b end, 'any', 'away0', true },
  { 'div floor', function(a, b) return torch.div(a, b, { rounding_mode = 'floor' }) end, 'any', 'pos' },
  { 'div trunc', function(a, b) return torch.div(a, b, { rounding_mode = 'trunc' }) end, 'any', 'pos' },
  { 'floor_divide', function(a, b) return a // b end, 'any', 'away0' },
  { 'remainder', function(a, b) return a % b end, 'any', 'away0', true },
  { 'fmod', function(a, b) return torch.fmod(a, b) end, 'any', 'away0', true },
  { 'pow', function(a, b) return a ^ b end, 'pos', 'any', true },
  { 'atan2', function(a, b) return torch.atan2(a, b) end, 'away0', 'away0', true },
  { 'maximum', function(a, b) return torch.maximum(a, b) end, 'any', 'any', true },
  { 'minimum', function(a, b) return torch.minimum(a, b) end, 'any', 'any', true },
}

describe('autograd: binary elementwise ops', function()
  for _, c in ipairs(binary) do
    local name, fn, da, db, smooth = c[1], c[2], c[3], c[4], c[5]
    it(name .. ': gradcheck, contiguous', function()
      assert.is_true(ag.gradcheck(fn, { rg(D[da]({ 2, 3 })), rg(D[db]({ 2, 3 })) }))
    end)
    it(name .. ': gradcheck, non-contiguous', function()
      assert.is_true(ag.gradcheck(fn, { rg(H.noncontig(D[da]({ 3, 2 }))), rg(H.noncontig(D[db]({ 3, 2 }))) }))
    end)
    it(name .. ': gradcheck, broadcast (2x3 with 3, 2x1 with 1x3, 0-d)', function()
      assert.is_true(ag.gradcheck(fn, { rg(D[da]({ 2, 3 })), rg(D[db]({ 3 })) }))
      assert.is_true(ag.gradcheck(fn, { rg(D[da]({ 2, 1 })), rg(D[db]({ 1, 3 })) }))
      assert.is_true(ag.gradcheck(fn, { rg(D[da]({})), rg(D[db]({ 2, 2 })) }))
    end)
    it(name .. ': gradcheck, one operand without grad', function()
      assert.is_true(ag.gradcheck(fn, { rg(D[da]({ 2, 3 })), D[db]({ 3 }) }))
      assert.is_true(ag.gradcheck(fn, { D[da]({ 3 }), rg(D[db]({ 2, 3 })) }))
    end)
    if smooth then
      it(name .. ': gradgradcheck', function()
        assert.is_true(gradgradcheck(fn, { rg(D[da]({ 2, 3 })), rg(D[db]({ 3 })) }))
      end)
    end
  end

  -- a number on either side: f(x) with the number fixed
  local with_numbers = {
    { 'x + 1.5', function(x) return x + 1.5 end, 'any' },
    { '2 - x', function(x) return 2 - x end, 'any' },
    { 'x * 3', function(x) return x * 3 end, 'any' },
    { '2.5 * x', function(x) return 2.5 * x end, 'any' },
    { '3 / x', function(x) return 3 / x end, 'away0' },
    { 'x / 4', function(x) return x / 4 end, 'any' },
    { 'x ^ 2 (integer exponent)', function(x) return x ^ 2 end, 'any' },
    { 'x ^ 3', function(x) return x ^ 3 end, 'any' },
    { 'x ^ 2.5', function(x) return x ^ 2.5 end, 'pos' },
    { 'x ^ -1.5', function(x) return x ^ -1.5 end, 'pos' },
    { 'x ^ 0', function(x) return x ^ 0 end, 'any' },
    { '2 ^ x', function(x) return torch.pow(2, x) end, 'any' },
    { '0.5 ^ x', function(x) return torch.pow(0.5, x) end, 'any' },
    { 'atan2(x, 2)', function(x) return torch.atan2(x, 2) end, 'any' },
    { 'atan2(1.5, x)', function(x) return torch.atan2(1.5, x) end, 'away0' },
    { 'x % 0.7', function(x) return x % 0.7 end, 'any' },
    { '5 % x', function(x) return torch.remainder(5, x) end, 'away0' },
    { 'fmod(x, -0.7)', function(x) return torch.fmod(x, -0.7) end, 'any' },
    { 'maximum(x, 0.1)', function(x) return torch.maximum(x, torch.tensor(0.1, { dtype = 'float64' })) end, 'any' },
    { 'x // 0.3', function(x) return x // 0.3 end, 'any' },
  }
  for _, c in ipairs(with_numbers) do
    it(c[1] .. ': gradcheck and gradgradcheck', function()
      assert.is_true(ag.gradcheck(c[2], { rg(D[c[3]]({ 2, 3 })) }))
      assert.is_true(ag.gradcheck(c[2], { rg(H.noncontig(D[c[3]]({ 3, 2 }))) }))
      assert.is_true(gradgradcheck(c[2], { rg(D[c[3]]({ 3 })) }))
    end)
  end

  it('a number as the first operand: 3 / x has gradient -3 / x^2, 2 * x has 2', function()
    local x = rg(f64 { 1, -2, 4 })
    ag.backward(3 / x, f64 { 1, 1, 1 })
    H.assert_close(x.grad, { -3, -0.75, -0.1875 })
    x.grad = nil
    ;(2 * x):sum():backward()
    H.assert_close(x.grad, { 2, 2, 2 })
  end)

  it('maximum and minimum split the gradient of ties half and half', function()
    local a, b = rg(f64 { 1, 2, 3 }), rg(f64 { 1, 5, -1 })
    torch.maximum(a, b):sum():backward()
    H.assert_close(a.grad, { 0.5, 0, 1 })
    H.assert_close(b.grad, { 0.5, 1, 0 })
    a.grad, b.grad = nil, nil
    torch.minimum(a, b):sum():backward()
    H.assert_close(a.grad, { 0.5, 1, 0 })
    H.assert_close(b.grad, { 0.5, 0, 1 })
  end)

  it('remainder and fmod: gradient 1 for the dividend, -floor / -trunc(a / b) for the divisor', function()
    local a, b = rg(f64 { 5.5, -5.5, 7 }), rg(f64 { 2, 2, -3 })
    torch.remainder(a, b):sum():backward()
    H.assert_close(a.grad, { 1, 1, 1 })
    H.assert_close(b.grad, { -2, 3, 3 })
    a.grad, b.grad = nil, nil
    torch.fmod(a, b):sum():backward()
    H.assert_close(a.grad, { 1, 1, 1 })
    H.assert_close(b.grad, { -2, 2, 2 })
  end)

  it('floor division and rounding division have zero gradients', function()
    local a, b = rg(f64 { 5.5, -5.5 }), rg(f64 { 2, 3 })
    local y = a // b
    assert.equal('FloorDivideBackward', y.grad_fn:name())
    y:sum():backward()
    H.assert_close(a.grad, { 0, 0 })
    H.assert_close(b.grad, { 0, 0 })
    a.grad, b.grad = nil, nil
    torch.div(a, b, { rounding_mode = 'trunc' }):sum():backward()
    H.assert_close(a.grad, { 0, 0 })
    H.assert_close(b.grad, { 0, 0 })
  end)

  it('pow at special points matches PyTorch (0^0, base 0, negative base)', function()
    -- tensor ^ number: the exponent 0 gives a zero gradient, also at 0
    local x = rg(f64 { 0, 2, -3 })
    ;(x ^ 0):sum():backward()
    H.assert_close(x.grad, { 0, 0, 0 })
    x.grad = nil
    ;(x ^ 2):sum():backward()
    H.assert_close(x.grad, { 0, 4, -6 })
    x.grad = nil
    ;(x ^ 0.5):sum():backward()
    H.assert_close(x.grad, { math.huge, 0.5 / math.sqrt(2), 0 / 0 })
    -- tensor ^ tensor: base 0 with exponent >= 0 gives 0 for the exponent; exponent 0 gives 0 for the base
    local a, b = rg(f64 { 0, 0, 0, 2, -2 }), rg(f64 { 0, 2, -1, 0, 2 })
    torch.pow(a, b):sum():backward()
    H.assert_close(a.grad, { 0, 0, -math.huge, 0, -4 })
    H.assert_close(b.grad, { 0, 0, -math.huge, math.log(2), 0 / 0 })
    -- number ^ tensor: base 0
    local e = rg(f64 { 0, 1, -1 })
    torch.pow(0, e):sum():backward()
    H.assert_close(e.grad, { 0, 0, -math.huge })
    e.grad = nil
    torch.pow(2, e):sum():backward()
    H.assert_close(e.grad, { math.log(2), 2 * math.log(2), 0.5 * math.log(2) })
  end)

  it('the gradient reaches a float32 input through a float64 result in its own dtype', function()
    local x = torch.tensor({ 1.5, 2.5 }, { requires_grad = true })
    local y = x * f64 { 2, 3 }
    assert.equal('float64', y.dtype)
    y:sum():backward()
    assert.equal('float32', x.grad.dtype)
    H.assert_close(x.grad, torch.tensor { 2.0, 3.0 })
  end)

  -- in-place forms: self = x*1 (a non-leaf), the other operand requires grad too
  local inplace = {
    { 'add_', function(s, b) return s:add_(b) end, function(a, b) return a + b end, 'any', 'any' },
    { 'add_ alpha', function(s, b) return s:add_(b, { alpha = 2 }) end,
      function(a, b) return torch.add(a, b, { alpha = 2 }) end, 'any', 'any' },
    { 'sub_', function(s, b) return s:sub_(b) end, function(a, b) return a - b end, 'any', 'any' },
    { 'mul_', function(s, b) return s:mul_(b) end, function(a, b) return a * b end, 'any', 'any' },
    { 'div_', function(s, b) return s:div_(b) end, function(a, b) return a / b end, 'any', 'away0' },
    { 'pow_', function(s, b) return s:pow_(b) end, function(a, b) return a ^ b end, 'pos', 'any' },
    { 'atan2_', function(s, b) return s:atan2_(b) end, function(a, b) return torch.atan2(a, b) end, 'any', 'away0' },
    { 'remainder_', function(s, b) return s:remainder_(b) end, function(a, b) return a % b end, 'any', 'away0' },
    { 'fmod_', function(s, b) return s:fmod_(b) end, function(a, b) return torch.fmod(a, b) end, 'any', 'away0' },
    { 'floor_divide_', function(s, b) return s:floor_divide_(b) end, function(a, b) return a // b end, 'any', 'pos' },
  }
  for _, c in ipairs(inplace) do
    it(c[1] .. ' records like the out-of-place op (with a broadcast operand)', function()
      local a, b = rg(D[c[4]]({ 2, 3 })), rg(D[c[5]]({ 3 }))
      local want = ag.grad({ (c[3](a, b) * 1.5):sum() }, { a, b })
      local s = a * 1
      c[2](s, b)
      H.assert_close(s, c[3](a, b):detach())
      local got = ag.grad({ (s * 1.5):sum() }, { a, b })
      H.assert_close(got[1], want[1])
      H.assert_close(got[2], want[2])
      assert.is_true(ag.gradcheck(function(p, q)
        local t = p * 1
        c[2](t, q)
        return t
      end, { rg(D[c[4]]({ 2, 3 })), rg(D[c[5]]({ 3 })) }))
    end)
  end

  it('an in-place op with a grad-requiring operand on a plain tensor records', function()
    local b = rg(D.any({ 3 }))
    local s = torch.ones(3, { dtype = 'float64' })
    s:mul_(b)
    assert.is_true(s.requires_grad)
    s:sum():backward()
    H.assert_close(b.grad, { 1, 1, 1 })
  end)

  it('in place into a view of a non-leaf rebases the base', function()
    local x = rg(D.any({ 2, 3 }))
    local y = x * 1
    y:view(3, 2):mul_(3)
    y:sum():backward()
    H.assert_close(x.grad, { { 3, 3, 3 }, { 3, 3, 3 } })
  end)

  it('in-place errors: a leaf that requires grad, and a broadcast that does not fit', function()
    local x = rg(D.any({ 3 }))
    H.assert_error(function() x:add_(1) end, 'add_: a leaf tensor that requires grad')
    H.assert_error(function() x:exp_() end, 'exp_: a leaf tensor that requires grad')
    local y = x * 1
    H.assert_error(function() y:add_(torch.ones(2, 3, { dtype = 'float64' })) end,
      "add_: output with shape 3 doesn't match the broadcast shape 2x3")
    -- under no_grad the leaf may be updated
    torch.no_grad(function() x:add_(1) end)
    assert.is_true(x.is_leaf)
  end)

  it('comparisons, logical and bitwise ops record no node; in place they make the values constant', function()
    local x = rg(f64 { -1, 2, 3 })
    local y = rg(f64 { 1, 2, -3 })
    for _, op in ipairs { 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logical_and', 'logical_or', 'logical_xor' } do
      local r = x[op](x, y)
      assert.is_false(r.requires_grad)
      assert.is_nil(r.grad_fn)
    end
    assert.is_false(x:isnan().requires_grad)
    assert.is_false(x:logical_not().requires_grad)
    local z = x * 1
    z:gt_(0)
    H.assert_close(z, { 0, 1, 1 })
    local w = z * x
    w:sum():backward()
    H.assert_close(x.grad, { 0, 1, 1 })
  end)

  it('integer operands record no node, and give no gradient edge next to a float one', function()
    local i = torch.tensor { 1, 2, 3 }
    assert.is_nil((i + i).grad_fn)
    assert.is_nil(i:exp().grad_fn)
    assert.is_nil(torch.pow(i, 2).grad_fn)
    local x = rg(f64 { 0.5, 1, 2 })
    local y = x * i
    assert.equal('MulBackward', y.grad_fn:name())
    assert.is_nil(y.grad_fn.next_functions[2][1])
    y:sum():backward()
    H.assert_close(x.grad, { 1, 2, 3 })
  end)

  it('out= is refused while recording and allowed otherwise', function()
    local x = rg(D.any({ 3 }))
    local out = torch.zeros(3, { dtype = 'float64' })
    H.assert_error(function() torch.exp(x, { out = out }) end, 'exp: out= cannot be used when an input requires grad')
    H.assert_error(function() torch.add(x, 1, { out = out }) end, 'add: out= cannot be used when an input requires grad')
    H.assert_error(function() torch.mul(2, x, { out = out }) end, 'mul: out= cannot be used')
    H.assert_error(function() torch.clamp(x, 0, 1, { out = out }) end, 'clamp: out= cannot be used')
    H.assert_error(function() torch.lerp(x, out, 0.5, { out = out }) end, 'lerp: out= cannot be used')
    H.assert_error(function() torch.where(x:gt(0), x, 0, { out = out }) end, 'where: out= cannot be used')
    torch.no_grad(function() torch.exp(x, { out = out }) end)
    H.assert_close(out, x:detach():exp())
    torch.exp(x:detach(), { out = out })
    H.assert_close(out, x:detach():exp())
  end)

  it('without grad mode (and for inputs without grad) the plain ops run and record nothing', function()
    local x = rg(D.any({ 3 }))
    torch.no_grad(function()
      local y = (x * 2):exp():clamp(0, 1)
      assert.is_false(y.requires_grad)
      assert.is_nil(y.grad_fn)
      local z = torch.lerp(x, x, 0.5)
      assert.is_nil(z.grad_fn)
    end)
    local p = D.any({ 3 })
    assert.is_nil((p + p):sin().grad_fn)
    assert.is_false(torch.where(p:gt(0), p, 0).requires_grad)
  end)
end)

-- ---- ternary and clamp ----

local cond23 = torch.tensor { { true, false, true }, { false, false, true } }
local ternary = {
  { 'where', function(a, b) return torch.where(cond23, a, b) end, { 'any', 'any' }, true },
  { 'x:where', function(a, b) return a:where(cond23, b) end, { 'any', 'any' }, true },
  { 'where with a number', function(a) return torch.where(cond23, a, 0.5) end, { 'any' }, true },
  { 'lerp number weight', function(a, b) return torch.lerp(a, b, 0.3) end, { 'any', 'any' }, true },
  { 'lerp tensor weight', function(a, b, w) return torch.lerp(a, b, w) end, { 'any', 'any', 'any' }, true },
  { 'addcmul', function(a, b, c) return torch.addcmul(a, b, c, { value = 0.5 }) end, { 'any', 'any', 'any' }, true },
  { 'addcmul default value', function(a, b, c) return torch.addcmul(a, b, c) end, { 'any', 'any', 'any' }, true },
  { 'addcdiv', function(a, b, c) return torch.addcdiv(a, b, c, { value = -1.5 }) end, { 'any', 'any', 'away0' }, true },
  { 'clamp numbers', function(a) return a:clamp(-0.5, 0.8) end, { 'any' }, true },
  { 'clamp min number', function(a) return a:clamp_min(0.2) end, { 'any' }, true },
  { 'clamp max number', function(a) return torch.clamp(a, { max = -0.1 }) end, { 'any' }, true },
  { 'clamp tensors', function(a, lo, hi) return torch.clamp(a, lo, hi) end, { 'any', 'any', 'any' }, true },
  { 'clamp tensor min, number max', function(a, lo) return a:clamp(lo, 0.5) end, { 'any', 'any' }, true },
  { 'clamp_min tensor', function(a, lo) return a:clamp_min(lo) end, { 'any', 'any' }, true },
  { 'clamp_max tensor', function(a, hi) return torch.clamp_max(a, hi) end, { 'any', 'any' }, true },
}

describe('autograd: ternary elementwise ops and clamp', function()
  for _, c in ipairs(ternary) do
    local name, fn, doms, smooth = c[1], c[2], c[3], c[4]
    local function inputs(shapes, noncontig)
      local t = {}
      for i, d in ipairs(doms) do
        local s = shapes[i] or shapes[#shapes]
        local v = noncontig and H.noncontig(D[d](s)) or D[d](s)
        t[i] = rg(v)
      end
      return t
    end
    it(name .. ': gradcheck, contiguous', function()
      assert.is_true(ag.gradcheck(fn, inputs({ { 2, 3 } })))
    end)
    it(name .. ': gradcheck, non-contiguous', function()
      assert.is_true(ag.gradcheck(fn, inputs({ { 2, 3 } }, true)))
    end)
    if #doms > 1 then
      it(name .. ': gradcheck, broadcast', function()
        assert.is_true(ag.gradcheck(fn, inputs({ { 2, 3 }, { 3 }, { 2, 1 } })))
      end)
    end
    if smooth then
      it(name .. ': gradgradcheck', function()
        assert.is_true(gradgradcheck(fn, inputs({ { 2, 3 } })))
      end)
    end
  end

  it('where routes the gradient to the selected operand, none to the condition', function()
    local a, b = rg(f64 { 1, 2, 3 }), rg(f64 { 4, 5, 6 })
    local cond = torch.tensor { true, false, true }
    local y = torch.where(cond, a, b)
    assert.equal('WhereBackward', y.grad_fn:name())
    ag.backward(y, f64 { 10, 20, 30 })
    H.assert_close(a.grad, { 10, 0, 30 })
    H.assert_close(b.grad, { 0, 20, 0 })
  end)

  it('lerp, addcmul and addcdiv gradients by hand', function()
    local a, b, w = rg(f64 { 1, 2 }), rg(f64 { 3, 6 }), rg(f64 { 0.25, 0.5 })
    torch.lerp(a, b, w):sum():backward()
    H.assert_close(a.grad, { 0.75, 0.5 })
    H.assert_close(b.grad, { 0.25, 0.5 })
    H.assert_close(w.grad, { 2, 4 })
    a.grad, b.grad, w.grad = nil, nil, nil
    torch.addcdiv(a, b, w, { value = 2 }):sum():backward()
    H.assert_close(a.grad, { 1, 1 })
    H.assert_close(b.grad, { 8, 4 })
    H.assert_close(w.grad, { -2 * 3 / 0.0625, -2 * 6 / 0.25 })
    a.grad, b.grad, w.grad = nil, nil, nil
    torch.addcmul(a, b, w, { value = 2 }):sum():backward()
    H.assert_close(a.grad, { 1, 1 })
    H.assert_close(b.grad, { 0.5, 1 })
    H.assert_close(w.grad, { 6, 12 })
  end)

  it('clamp with numbers: gradient where lo <= x <= hi, bounds included; none for NaN', function()
    local x = rg(f64 { -2, -1, 0, 1, 2, 0 / 0 })
    x:clamp(-1, 1):sum():backward()
    H.assert_close(x.grad, { 0, 1, 1, 1, 0, 0 })
    x.grad = nil
    x:clamp_min(0):sum():backward()
    H.assert_close(x.grad, { 0, 0, 1, 1, 1, 0 })
    x.grad = nil
    x:clamp_max(0):sum():backward()
    H.assert_close(x.grad, { 1, 1, 1, 0, 0, 0 })
    x.grad = nil
    -- min > max: every value is max, nothing passes
    x:clamp(1, -1):sum():backward()
    H.assert_close(x.grad, { 0, 0, 0, 0, 0, 0 })
  end)

  it('clamp with tensor bounds: each bound gets the gradient where it is selected', function()
    local x = rg(f64 { -2, 0, 2, 0.5, 0 })
    local lo = rg(f64 { -1, -1, -1, 1, 0 })
    local hi = rg(f64 { 1, 1, 1, -1, 1 }) -- element 4: lo > hi, the result is hi
    local y = torch.clamp(x, lo, hi)
    assert.equal('ClampBackward', y.grad_fn:name())
    H.assert_close(y, { -1, 0, 1, -1, 0 })
    y:sum():backward()
    H.assert_close(x.grad, { 0, 1, 0, 0, 1 })
    H.assert_close(lo.grad, { 1, 0, 0, 0, 0 })
    H.assert_close(hi.grad, { 0, 0, 1, 1, 0 })
    assert.equal('ClampMinBackward', x:clamp_min(lo).grad_fn:name())
    assert.equal('ClampMaxBackward', x:clamp_max(0).grad_fn:name())
  end)

  local ter_inplace = {
    { 'lerp_', function(s, b, c) return s:lerp_(b, c) end, function(a, b, c) return torch.lerp(a, b, c) end },
    { 'lerp_ number', function(s, b) return s:lerp_(b, 0.75) end, function(a, b) return torch.lerp(a, b, 0.75) end },
    { 'addcmul_', function(s, b, c) return s:addcmul_(b, c, { value = 2 }) end,
      function(a, b, c) return torch.addcmul(a, b, c, { value = 2 }) end },
    { 'addcdiv_', function(s, b, c) return s:addcdiv_(b, c + 3) end,
      function(a, b, c) return torch.addcdiv(a, b, c + 3) end },
    { 'clamp_ numbers', function(s) return s:clamp_(-0.5, 0.5) end, function(a) return a:clamp(-0.5, 0.5) end },
    { 'clamp_ tensors', function(s, b, c) return s:clamp_(b - 1, c + 1) end,
      function(a, b, c) return a:clamp(b - 1, c + 1) end },
    { 'clamp_min_', function(s, b) return s:clamp_min_(b) end, function(a, b) return a:clamp_min(b) end },
    { 'clamp_max_', function(s) return s:clamp_max_(0.3) end, function(a) return a:clamp_max(0.3) end },
  }
  for _, c in ipairs(ter_inplace) do
    it(c[1] .. ' records like the out-of-place op', function()
      local a, b, w = rg(D.any({ 2, 3 })), rg(D.any({ 3 })), rg(D.any({ 2, 3 }))
      local want = ag.grad({ (c[3](a, b, w) * 1.5):sum() }, { a, b, w }, { allow_unused = true })
      local s = a * 1
      c[2](s, b, w)
      H.assert_close(s, c[3](a, b, w):detach())
      local got = ag.grad({ (s * 1.5):sum() }, { a, b, w }, { allow_unused = true })
      for i = 1, 3 do
        if want[i] then H.assert_close(got[i], want[i]) else assert.is_nil(got[i]) end
      end
    end)
  end

  it('clamp_ on a leaf that requires grad is refused', function()
    local x = rg(D.any({ 3 }))
    H.assert_error(function() x:clamp_(0, 1) end, 'clamp_: a leaf tensor that requires grad')
    H.assert_error(function() x:addcmul_(x, x) end, 'addcmul_: a leaf tensor that requires grad')
  end)
end)
