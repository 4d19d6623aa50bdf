-- optim.Adadelta (lr=1.0, rho=0.9, eps=1e-6, weight_decay, maximize), PyTorch 2's
-- formulas, composed from tensor ops under no_grad. State: step, square_avg, acc_delta.
local torch = require 'torch'

local Adadelta, parent = torch.class('optim.Adadelta', 'optim.Optimizer')
Adadelta._options = { 'lr', 'rho', 'eps', 'weight_decay', 'maximize', 'foreach', 'capturable', 'differentiable' }
Adadelta._defaults = { lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0, maximize = false, foreach = false,
  capturable = false, differentiable = false }

function Adadelta:__init(params, opts) parent.__init(self, params, opts) end

function Adadelta:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'rho', 0, 1)
  self:_check_number(o, 'eps', 0)
  self:_check_number(o, 'weight_decay', 0)
  self:_check_bool(o, 'maximize')
end

function Adadelta:_update(g)
  local rho = g.rho
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then st.step, st.square_avg, st.acc_delta = 0, torch.zeros_like(p), torch.zeros_like(p) end
    st.step = st.step + 1
    if g.maximize then grad = -grad end
    if g.weight_decay ~= 0 then grad = grad:add(p, { alpha = g.weight_decay }) end
    st.square_avg:mul_(rho):addcmul_(grad, grad, { value = 1 - rho })
    local std = st.square_avg:add(g.eps):sqrt_()
    local delta = st.acc_delta:add(g.eps):sqrt_():div_(std):mul_(grad)
    st.acc_delta:mul_(rho):addcmul_(delta, delta, { value = 1 - rho })
    p:add_(delta, { alpha = -g.lr })
  end
end

return Adadelta
