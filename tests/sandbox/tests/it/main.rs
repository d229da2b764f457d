mod kubectl;
mod kubectl_support;
