-- optim.RMSprop (alpha, eps, weight_decay, momentum, centered, maximize), PyTorch 2's
-- formulas and defaults (lr=1e-2, alpha=0.99, eps=1e-8); one fused C pass per
-- parameter (torch._rmsprop_step). State: step, square_avg, momentum_buffer
-- (momentum > 0), grad_avg (centered).
local torch = require 'torch'
local optim = require 'optim'

local RMSprop, parent = torch.class('optim.RMSprop', 'optim.Optimizer')
RMSprop._options = { 'lr', 'alpha', 'eps', 'weight_decay', 'momentum', 'centered', 'maximize', 'foreach',
  'capturable', 'differentiable' }
RMSprop._defaults = { lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false,
  maximize = false, foreach = false, capturable = false, differentiable = false }

function RMSprop:__init(params, opts) parent.__init(self, params, opts) end

function RMSprop:_check(o)
  self:_check_number(o, 'lr', 0)
  self:_check_number(o, 'eps', 0)
  self:_check_number(o, 'momentum', 0)
  self:_check_number(o, 'weight_decay', 0)
  self:_check_number(o, 'alpha', 0)
  self:_check_bool(o, 'centered')
  self:_check_bool(o, 'maximize')
end

function RMSprop:_update(g)
  local o = { lr = g.lr, alpha = g.alpha, eps = g.eps, weight_decay = g.weight_decay, momentum = g.momentum,
    maximize = g.maximize }
  for _, e in ipairs(self:_with_grad(g)) do
    local p, grad, st = e[1], e[2], e[3]
    if not st.step then
      st.step, st.square_avg = 0, torch.zeros_like(p)
    end
    if g.momentum > 0 and not st.momentum_buffer then st.momentum_buffer = torch.zeros_like(p) end
    if g.centered and not st.grad_avg then st.grad_avg = torch.zeros_like(p) end
    st.step = st.step + 1
    torch._rmsprop_step(p, optim._contig(self, p, grad), st.square_avg, g.momentum > 0 and st.momentum_buffer or nil,
      g.centered and st.grad_avg or nil, o)
  end
end

return RMSprop
