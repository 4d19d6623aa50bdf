-- optim.SGD: stochastic gradient descent with momentum, dampening, weight decay,
-- Nesterov momentum and maximize, PyTorch 2's formulas and defaults (lr=1e-3). The
-- update of each parameter is one fused C pass (torch._sgd_step).
local torch = require 'torch'
local optim = require 'optim'

local SGD, parent = torch.class('optim.SGD', 'optim.Optimizer')
SGD._options = { 'lr', 'momentum', 'dampening', 'weight_decay', 'nesterov', 'maximize', 'foreach', 'differentiable' }
SGD._defaults = { lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false, maximize = false,
  foreach = false, differentiable = false }

function SGD:__init(params, opts)
  parent.__init(self, params, opts)
end

function SGD:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'momentum', 0)
  self:_check_number(o, 'dampening')
  self:_check_number(o, 'weight_decay', 0)
  self:_check_bool(o, 'nesterov')
  self:_check_bool(o, 'maximize')
  if o.nesterov and (o.momentum <= 0 or o.dampening ~= 0) then
    self:_fail('Nesterov momentum requires a momentum and zero dampening (got momentum=%s, dampening=%s)',
      tostring(o.momentum), tostring(o.dampening))
  end
end

function SGD:_update(g)
  local o = { lr = g.lr, momentum = g.momentum, dampening = g.dampening, weight_decay = g.weight_decay,
    nesterov = g.nesterov, maximize = g.maximize }
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    st.momentum_buffer = torch._sgd_step(p, optim._contig(self, p, grad), st.momentum_buffer, o)
  end
end

-- The gradient as the fused kernels want it (contiguous, detached); the parameter
-- must be contiguous already (it is written in place).
function optim._contig(opt, p, grad)
  if not p:is_contiguous() then
    error(('%s: parameter of shape %s is not contiguous; the fused update needs contiguous parameters ' ..
      '(make the leaf with x:contiguous():detach():requires_grad_())'):format(opt:_name(),
      table.concat(p:size(), 'x')), 5)
  end
  if not grad:is_contiguous() then grad = grad:contiguous() end
  return grad
end

return SGD
