-- optim.Rprop, resilient backpropagation (lr=1e-2, etas={0.5, 1.2},
-- step_sizes={1e-6, 50}, maximize), PyTorch 2's formulas, composed from tensor ops
-- under no_grad. State: step, prev (the last gradient used), step_size.
local torch = require 'torch'

local Rprop, parent = torch.class('optim.Rprop', 'optim.Optimizer')
Rprop._options = { 'lr', 'etas', 'step_sizes', 'maximize', 'foreach', 'capturable', 'differentiable' }
Rprop._defaults = { lr = 1e-2, etas = { 0.5, 1.2 }, step_sizes = { 1e-6, 50 }, maximize = false, foreach = false,
  capturable = false, differentiable = false }

function Rprop:__init(params, opts) parent.__init(self, params, opts) end

function Rprop:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_pair(o, 'etas', function(minus, plus)
    if not (0 < minus and minus < 1 and 1 < plus) then
      self:_fail('invalid eta values: %s, %s (expected 0 < etaminus < 1 < etaplus)', tostring(minus), tostring(plus))
    end
  end)
  self:_check_pair(o, 'step_sizes', function() end)
  self:_check_bool(o, 'maximize')
end

function Rprop:_update(g)
  local etaminus, etaplus = g.etas[1], g.etas[2]
  local smin, smax = g.step_sizes[1], g.step_sizes[2]
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step, st.prev, st.step_size = 0, torch.zeros_like(p), torch.full_like(grad, g.lr)
    end
    st.step = st.step + 1
    if g.maximize then grad = -grad end
    local sign = grad:mul(st.prev):sign()
    local pos, neg = sign:gt(0), sign:lt(0)
    local zero = sign:eq(0)
    sign:masked_fill_(pos, etaplus)
    sign:masked_fill_(neg, etaminus)
    sign:masked_fill_(zero, 1)
    st.step_size:mul_(sign):clamp_(smin, smax)
    grad = grad:clone()
    grad:masked_fill_(neg, 0)
    p:addcmul_(grad:sign(), st.step_size, { value = -1 })
    st.prev:copy_(grad)
  end
end

return Rprop
