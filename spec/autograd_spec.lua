-- The autograd engine and its Lua surface: requires_grad, grad, grad_fn, backward,
-- retain_graph, hooks, grad modes, autograd.grad (also second order), in-place
-- detection, custom functions, gradcheck itself and memory. Composite
-- expressions against PyTorch are in autograd_pytorch_spec.lua.
-- Per-op gradients are in autograd_<family>_spec.lua.
local torch = require 'torch'
local H = require 'spec.support.helpers'

local fx = H.fixture('autograd')
local T = H.tensor

local function leaf(values)
  return torch.tensor(values, { dtype = 'float64', requires_grad = true })
end

describe('autograd surface', function()
  it('requires_grad is read and written on leaves', function()
    local x = torch.ones(3)
    assert.is_false(x.requires_grad)
    x.requires_grad = true
    assert.is_true(x.requires_grad)
    assert.is_true(x.is_leaf)
    x:requires_grad_(false)
    assert.is_false(x.requires_grad)
    assert.are.equal(x, x:requires_grad_())
    assert.is_true(x.requires_grad)
  end)

  it('only floating-point tensors can require grad', function()
    H.assert_error(function() torch.tensor({ 1, 2 }):requires_grad_() end, 'only floating-point tensors')
    H.assert_error(function() torch.zeros(2, { dtype = 'int64', requires_grad = true }) end,
      'only floating-point tensors')
    H.assert_error(function() torch.ones(2).requires_grad = 1 end, 'expected a boolean')
  end)

  it('every constructor takes {requires_grad=true}', function()
    local made = {
      torch.tensor({ 1.0, 2.0 }, { requires_grad = true }),
      torch.zeros(2, 3, { requires_grad = true }),
      torch.ones({ 2 }, { requires_grad = true }),
      torch.full({ 2 }, 1.5, { requires_grad = true }),
      torch.empty(2, { requires_grad = true }),
      torch.zeros_like(torch.ones(2), { requires_grad = true }),
      torch.ones_like(torch.ones(2), { requires_grad = true }),
      torch.full_like(torch.ones(2), 3, { requires_grad = true }),
      torch.arange(0, 3, 1, { dtype = 'float32', requires_grad = true }),
      torch.linspace(0, 1, 5, { requires_grad = true }),
      torch.logspace(0, 1, 5, { requires_grad = true }),
      torch.eye(3, { requires_grad = true }),
      torch.rand(2, { requires_grad = true }),
      torch.randn(2, { requires_grad = true }),
      torch.ones(2):new_zeros(3, { requires_grad = true }),
    }
    for i, t in ipairs(made) do
      assert.is_true(t.requires_grad, 'constructor ' .. i)
      assert.is_true(t.is_leaf)
    end
  end)

  it('changing requires_grad of a non-leaf is refused', function()
    local y = leaf({ 1, 2 }) * 2
    assert.is_false(y.is_leaf)
    H.assert_error(function() y.requires_grad = false end, 'only a leaf tensor')
  end)

  it('grad is read, assigned and cleared', function()
    local x = leaf({ 1, 2, 3 })
    assert.is_nil(x.grad)
    x.grad = torch.ones(3, { dtype = 'float64' })
    H.assert_close(x.grad, { 1, 1, 1 })
    H.assert_error(function() x.grad = torch.ones(2, { dtype = 'float64' }) end, 'shape 2 but the tensor has shape 3')
    H.assert_error(function() x.grad = torch.ones(3) end, 'float32 but the tensor is float64')
    H.assert_error(function() x.grad = 5 end, 'expected a tensor or nil')
    x.grad = nil
    assert.is_nil(x.grad)
  end)

  it('grad_fn names the op and prints in the tensor', function()
    local x = leaf({ 1, 2 })
    local y = x * 2
    assert.are.equal('MulBackward', y.grad_fn:name())
    assert.are.equal('<MulBackward>', tostring(y.grad_fn))
    assert.is_nil(x.grad_fn)
    assert.truthy(tostring(y):find('grad_fn=<MulBackward>', 1, true))
    assert.truthy(tostring(x):find('requires_grad=True', 1, true))
    local nf = (y + x).grad_fn.next_functions
    assert.are.equal('MulBackward', nf[1][1]:name())
    assert.are.equal('AccumulateGrad', nf[2][1]:name())
  end)

  it('data and detach share storage without history', function()
    local x = leaf({ 1, 2 })
    local y = x * 3
    for _, d in ipairs { y.data, y:detach() } do
      assert.is_false(d.requires_grad)
      assert.is_nil(d.grad_fn)
      assert.is_true(d:is_set_to(y))
    end
    local z = x * 3
    z:detach_()
    assert.is_false(z.requires_grad)
    assert.is_nil(z.grad_fn)
  end)
end)

describe('backward', function()
  it('accumulates into leaves, summing broadcast gradients', function()
    local x = leaf({ { 1, 2, 3 }, { 4, 5, 6 } })
    local b = leaf({ 10, 20, 30 })
    local s = leaf({ 2 })
    local y = ((x * b + b) * s):sum()
    y:backward()
    H.assert_close(x.grad, { { 20, 40, 60 }, { 20, 40, 60 } })
    H.assert_close(b.grad, { 2 * (1 + 4) + 4, 2 * (2 + 5) + 4, 2 * (3 + 6) + 4 })
    H.assert_close(s.grad, { (1 + 4) * 10 + (2 + 5) * 20 + (3 + 6) * 30 + 2 * 60 })
    y = (x * 1):sum()
    y:backward()
    H.assert_close(x.grad, { { 21, 41, 61 }, { 21, 41, 61 } })
  end)

  it('promoted dtypes give gradients in each input dtype', function()
    local a = torch.tensor({ 1.5, 2.5 }, { requires_grad = true })
    local b = leaf({ 2, 4 })
    local y = (a * b):sum()
    assert.are.equal('float64', y.dtype)
    y:backward()
    assert.are.equal('float32', a.grad.dtype)
    H.assert_close(a.grad, { 2, 4 })
    H.assert_close(b.grad, { 1.5, 2.5 })
  end)

  it('needs a gradient for a non-scalar output', function()
    local x = leaf({ 1, 2 })
    local y = x * 2
    H.assert_error(function() y:backward() end, 'only for a one-element output')
    y:backward(torch.tensor({ 1.0, 10.0 }, { dtype = 'float64' }))
    H.assert_close(x.grad, { 2, 20 })
    H.assert_error(function() (x * 2):backward(torch.ones(3, { dtype = 'float64' })) end,
      'the gradient has shape 3 but output 1 has shape 2')
    H.assert_error(function() (x * 2):backward(5) end, 'expected a gradient tensor or an options table')
  end)

  it('raises on an output without history', function()
    H.assert_error(function() torch.ones(1):sum():backward() end, 'does not require grad')
  end)

  it('frees the graph unless retain_graph', function()
    local x = leaf({ 1, 2 })
    local y = (x:exp()):sum()
    y:backward({ retain_graph = true })
    y:backward()
    H.assert_close(x.grad, torch.tensor({ 1, 2 }, { dtype = 'float64' }):exp() * 2)
    H.assert_error(function() y:backward() end, 'backward through the graph a second time')
    -- a graph without saved tensors can be walked again, as in PyTorch
    local z = (x + 1):sum()
    z:backward()
    z:backward()
  end)

  it('keeps non-leaf gradients only with retain_grad', function()
    local x = leaf({ 1, 2 })
    local h = x * 2
    local k = x * 3
    h:retain_grad()
    ;(h * k):sum():backward()
    H.assert_close(h.grad, { 3, 6 })
    assert.is_nil(k.grad)
  end)

  it('reaches a leaf used twice through one path each', function()
    local x = leaf({ 3 })
    local y = x * x * x -- 3x^2
    y:backward()
    H.assert_close(x.grad, { 27 })
  end)
end)

describe('hooks', function()
  it('see and replace gradients of non-leaves and leaves', function()
    local x = leaf({ 1, 2 })
    local seen
    local h = x * 2
    h:register_hook(function(g) seen = g:clone() return g * 10 end)
    local calls = 0
    x:register_hook(function(g) calls = calls + 1 end)
    h:sum():backward()
    H.assert_close(seen, { 1, 1 })
    H.assert_close(x.grad, { 20, 20 })
    assert.are.equal(1, calls)
  end)

  it('can be removed, and errors in hooks surface as Lua errors', function()
    local x = leaf({ 1 })
    local handle = x:register_hook(function(g) return g * 100 end)
    handle:remove()
    ;(x * 1):sum():backward()
    H.assert_close(x.grad, { 1 })
    x:register_hook(function() error('boom in hook') end)
    H.assert_error(function() (x * 1):sum():backward() end, 'boom in hook')
    local y = leaf({ 1 })
    y:register_hook(function() return 'nope' end)
    H.assert_error(function() (y * 1):sum():backward() end, 'must return nil or a tensor')
    H.assert_error(function() torch.ones(1):register_hook(function() end) end, 'does not require grad')
  end)
end)

describe('grad modes', function()
  it('no_grad, enable_grad, set_grad_enabled, inference_mode', function()
    local x = leaf({ 1 })
    local y = torch.no_grad(function() return x * 2 end)
    assert.is_false(y.requires_grad)
    assert.is_true(torch.is_grad_enabled())
    torch.no_grad(function()
      assert.is_false(torch.is_grad_enabled())
      local z = torch.enable_grad(function() return x * 2 end)
      assert.is_true(z.requires_grad)
    end)
    torch.set_grad_enabled(false)
    assert.is_false((x * 2).requires_grad)
    torch.set_grad_enabled(true)
    assert.is_true((x * 2).requires_grad)
    assert.is_false(torch.inference_mode(function() return (x * 2).requires_grad end))
  end)

  it('restores the mode after an error and works as a <close> guard', function()
    assert.is_false(pcall(torch.no_grad, function() error('inside') end))
    assert.is_true(torch.is_grad_enabled())
    do
      local _ <close> = torch.no_grad()
      assert.is_false(torch.is_grad_enabled())
    end
    assert.is_true(torch.is_grad_enabled())
    H.assert_error(function() torch.no_grad(5) end, 'expected a function')
  end)

  it('allows parameter updates under no_grad', function()
    local w = leaf({ 1, 2 })
    ;(w * w):sum():backward()
    torch.no_grad(function() w:sub_(w.grad * 0.5) end)
    H.assert_close(w, { 0, 0 })
    assert.is_true(w.is_leaf)
    w.grad:zero_()
    H.assert_close(w.grad, { 0, 0 })
  end)
end)

describe('autograd.grad', function()
  it('returns gradients without touching .grad', function()
    local x = leaf({ 1, 2 })
    local y = leaf({ 3, 4 })
    local g = torch.autograd.grad((x * y):sum(), { x, y })
    H.assert_close(g[1], { 3, 4 })
    H.assert_close(g[2], { 1, 2 })
    assert.is_nil(x.grad)
  end)

  it('computes second derivatives with create_graph', function()
    local x = leaf({ 1, 2, 3 })
    local y = (x * x * x):sum()
    local g = torch.autograd.grad(y, x, { create_graph = true })[1]
    H.assert_close(g, { 3, 12, 27 })
    assert.is_true(g.requires_grad)
    local g2 = torch.autograd.grad(g:sum(), x)[1]
    H.assert_close(g2, { 6, 12, 18 })
  end)

  it('handles unused inputs and grad_outputs', function()
    local x, z = leaf({ 1 }), leaf({ 2 })
    local y = x * 2
    H.assert_error(function() torch.autograd.grad(y, { x, z }, { retain_graph = true }) end, 'input 2 was not used')
    local g = torch.autograd.grad(y, { x, z }, { allow_unused = true, retain_graph = true })
    H.assert_close(g[1], { 2 })
    assert.is_nil(g[2])
    g = torch.autograd.grad(y, x, { grad_outputs = torch.tensor({ 5.0 }, { dtype = 'float64' }) })
    H.assert_close(g[1], { 10 })
  end)

  it('gives the gradient of a non-leaf input', function()
    local x = leaf({ 1, 2 })
    local h = x * 3
    local g = torch.autograd.grad((h * h):sum(), h)[1]
    H.assert_close(g, { 6, 12 })
  end)
end)

describe('in-place safety', function()
  it('refuses in-place ops on leaves that require grad', function()
    local x = leaf({ 1, 2 })
    H.assert_error(function() x:add_(1) end, 'a leaf tensor that requires grad cannot be modified in place')
    H.assert_error(function() x:zero_() end, 'a leaf tensor that requires grad')
    H.assert_error(function() x:copy_(torch.ones(2)) end, 'a leaf tensor that requires grad')
    H.assert_error(function() x:normal_() end, 'normal_: a leaf tensor that requires grad')
    H.assert_error(function() x:uniform_() end, 'uniform_: a leaf tensor that requires grad')
    H.assert_error(function() x:bernoulli_(0.5) end, 'bernoulli_: a leaf tensor that requires grad')
    torch.no_grad(function() x:uniform_() end)
    assert.is_true(x.is_leaf and x.requires_grad)
  end)

  it('refuses out= into a tensor that requires grad', function()
    local w = leaf({ 1, 2 })
    H.assert_error(function() torch.add(torch.ones(2, { dtype = 'float64' }), 1, { out = w }) end,
      'out= cannot write into a tensor that requires grad')
    torch.no_grad(function() torch.add(torch.ones(2, { dtype = 'float64' }), 1, { out = w }) end)
    H.assert_close(w, { 2, 2 })
  end)

  it('records random fills of non-leaves as constants', function()
    local x = leaf({ 1, 2 })
    local y = x * 2
    y:normal_()
    assert.are.equal('FillBackward', y.grad_fn:name())
    local z = x * 3
    ;(y + z):sum():backward()
    H.assert_close(x.grad, { 3, 3 })
  end)

  it('detects a saved tensor modified in place, naming the op', function()
    local x = leaf({ 1, 2 })
    local h = x * 2
    local y = h:exp() -- saves its result
    y:add_(1)
    H.assert_error(function() y:sum():backward() end, 'saved by ExpBackward')
    local a = leaf({ 1, 2 })
    local b = a * 1
    local p = a * b
    b:mul_(2)
    H.assert_error(function() p:sum():backward() end, 'saved by MulBackward')
    -- through a detached alias too: it shares the version counter
    local c = a * 1
    local q = c:exp()
    q:detach():zero_()
    H.assert_error(function() q:sum():backward() end, 'modified by an in-place operation')
  end)

  it('records in-place ops on non-leaves', function()
    local x = leaf({ 1, 2, 3 })
    local y = x * 2
    y:mul_(x)
    assert.are.equal('MulBackward', y.grad_fn:name())
    y:exp_()
    y:sum():backward()
    -- d/dx exp(2x^2) = 4x exp(2x^2)
    local e = torch.tensor({ 1, 2, 3 }, { dtype = 'float64' })
    H.assert_close(x.grad, (e * e * 2):exp() * e * 4, { rtol = 1e-10 })
  end)

  it('records writes into a plain tensor of values that require grad', function()
    local x = leaf({ 1, 2 })
    local out = torch.zeros(2, { dtype = 'float64' })
    out:copy_(x * 3)
    assert.is_true(out.requires_grad)
    out:sum():backward()
    H.assert_close(x.grad, { 3, 3 })
  end)
end)

describe('custom functions', function()
  local MyExp = torch.autograd.Function {
    name = 'MyExp',
    forward = function(ctx, x)
      local y = x:exp()
      ctx:save_for_backward(y)
      return y
    end,
    backward = function(ctx, g)
      local y = ctx.saved_tensors[1]
      return g * y
    end,
  }

  it('runs forward and the hand-written backward', function()
    local x = leaf({ 0, 1 })
    local y = MyExp(x)
    assert.are.equal('MyExpBackward', y.grad_fn:name())
    y:sum():backward()
    H.assert_close(x.grad, torch.tensor({ 0, 1 }, { dtype = 'float64' }):exp())
    assert.is_true(torch.autograd.gradcheck(function(a) return MyExp.apply(a) end, { leaf({ 0.3, -0.2 }) }))
    assert.is_true(torch.autograd.gradgradcheck(function(a) return MyExp(a) end, { leaf({ 0.3, -0.2 }) }))
  end)

  it('takes several inputs and outputs, numbers, and needs_input_grad', function()
    local seen
    local F = torch.autograd.Function {
      forward = function(ctx, a, k, b)
        seen = { ctx.needs_input_grad[1], ctx.needs_input_grad[2], ctx.needs_input_grad[3] }
        ctx.k = k
        ctx:save_for_backward(a, b)
        return a * b * k, a + b
      end,
      backward = function(ctx, g1, g2)
        local a, b = table.unpack(ctx.saved_tensors)
        return g1 * b * ctx.k + g2, nil, g1 * a * ctx.k + g2
      end,
    }
    local a, b = leaf({ 1, 2 }), torch.tensor({ 3.0, 4.0 }, { dtype = 'float64' })
    local p, s = F(a, 2, b)
    assert.are.same({ true, false, false }, seen)
    ;(p + s):sum():backward()
    H.assert_close(a.grad, { 7, 9 })
    assert.is_true(torch.autograd.gradcheck(function(x, y) return F(x, 3, y) end, { leaf({ 1, 2 }), leaf({ 3, 5 }) }))
  end)

  it('marks outputs non-differentiable and inputs dirty', function()
    local Sort = torch.autograd.Function {
      forward = function(ctx, x)
        local idx = torch.tensor({ 2, 1 })
        local y = x * 2
        ctx:mark_non_differentiable(idx)
        return y, idx
      end,
      backward = function(ctx, g) return g * 2 end,
    }
    local x = leaf({ 1, 2 })
    local y, idx = Sort(x)
    assert.is_false(idx.requires_grad)
    assert.is_true(y.requires_grad)
    local AddOne = torch.autograd.Function {
      forward = function(ctx, x)
        x:add_(1)
        ctx:mark_dirty(x)
        return x
      end,
      backward = function(ctx, g) return g end,
    }
    local h = x * 1
    local r = AddOne(h)
    H.assert_close(h, { 2, 3 })
    assert.are.equal('FunctionBackward', h.grad_fn:name())
    r:sum():backward()
    H.assert_close(x.grad, { 1, 1 })
  end)

  it('reports a wrong number or kind of gradients', function()
    local Bad = torch.autograd.Function {
      forward = function(ctx, x) return x * 1 end,
      backward = function(ctx, g) return g, g end,
    }
    H.assert_error(function() Bad(leaf({ 1 })):sum():backward() end, 'returned 2 gradients, but its forward took 1')
    local Bad2 = torch.autograd.Function {
      forward = function(ctx, x) return x * 1 end,
      backward = function(ctx, g) return 'x' end,
    }
    H.assert_error(function() Bad2(leaf({ 1 })):sum():backward() end, 'returned a string as gradient 1')
    local Bad3 = torch.autograd.Function {
      forward = function(ctx, x) return x * 1 end,
      backward = function(ctx, g) return torch.ones(3, { dtype = 'float64' }) end,
    }
    H.assert_error(function() Bad3(leaf({ 1, 2 })):sum():backward() end, 'returned a gradient of shape 3')
    H.assert_error(function() torch.autograd.Function { forward = 1 } end, 'expects a table with forward')
  end)
end)

describe('gradcheck', function()
  it('passes a correct gradient and reports a wrong one with its position', function()
    local Wrong = torch.autograd.Function {
      forward = function(ctx, x) ctx:save_for_backward(x) return x * x end,
      backward = function(ctx, g) return g * ctx.saved_tensors[1] end, -- should be 2x
    }
    assert.is_true(torch.autograd.gradcheck(function(x) return x * x end, { leaf({ 1, 2 }) }))
    H.assert_error(function() torch.autograd.gradcheck(function(x) return Wrong(x) end, { leaf({ 1, 2 }) }) end,
      'Jacobian mismatch for output 1 with respect to input 1')
    local ok, msg = torch.autograd.gradcheck(function(x) return Wrong(x) end, { leaf({ 1, 2 }) },
      { raise_exception = false })
    assert.is_false(ok)
    assert.truthy(msg:find('input element 2', 1, true))
  end)
end)

describe('memory', function()
  it('stays flat over 100,000 forward/backward steps', function()
    local a = torch.rand(1, { requires_grad = true })
    local b = torch.rand(1, { requires_grad = true })
    local function steps(n)
      for _ = 1, n do
        local y = (a * b + a):sum()
        y:backward()
      end
    end
    steps(1000)
    -- twice: finalized userdata are freed by the cycle after the one that finalizes them
    collectgarbage()
    collectgarbage()
    local before = torch.memory_stats().allocated_bytes
    local lua_before = collectgarbage('count')
    steps(100000)
    collectgarbage()
    collectgarbage()
    local after = torch.memory_stats().allocated_bytes
    assert.is_true(after <= before + 4096, before .. " -> " .. after)
    assert.is_true(collectgarbage("count") < lua_before + 1024, lua_before .. " -> " .. collectgarbage("count"))
  end)
end)
